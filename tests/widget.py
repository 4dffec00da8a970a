"""Driving the chat widget in a browser: the launcher (in the loader's shadow root) and the
chat page in its iframe. Playwright's CSS selectors pierce open shadow roots."""

import os
import re
import subprocess

from .live_server import BIN, ROOT

# The launcher in any shipped language (the loader takes its words from the server).
LAUNCHER = re.compile("Ask a question|Frage stellen|Poser une question|Hacer una pregunta|اطرح سؤالًا")

FRAME = "iframe[src*='/embed/']"


class Widget:
    def __init__(self, page):
        self.page = page
        # The loader's frame, whatever its title's language (a host page may hold frames of its own).
        self.frame = page.frame_locator(FRAME)

    @property
    def launcher(self):
        return self.page.get_by_role("button", name=LAUNCHER)

    @property
    def badge(self):
        return self.launcher.locator("b")

    @property
    def box(self):
        return self.frame.locator("textarea")

    @property
    def log(self):
        return self.frame.locator("#chat-log")

    def open(self):
        self.launcher.click()
        self.box.wait_for()
        # The chat answers the loader's hello before it is usable.
        self.frame.locator("body").wait_for()
        return self

    def send(self, text, wait=True):
        self.box.fill(text)
        self.box.press("Enter")
        if wait:
            self.log.locator("li.msg.own:not(.pending)", has_text=text.splitlines()[0]).last.wait_for()

    def own_texts(self):
        return self.log.locator("li.msg.own .text").all_inner_texts()

    def answers(self):
        return self.log.locator("li.msg.theirs:not(.welcome) .text").all_inner_texts()

    def close(self):
        self.frame.get_by_role("button", name="Close chat").click()
        self.page.locator(FRAME).wait_for(state="hidden")


def admin_reply(server, inquiry_id, text):
    """The shop answers from another process (as `flask chat reply` would): needs Redis to arrive live."""
    subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "reply", str(inquiry_id), text],
        env=server.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def last_inquiry_id(server):
    """The newest inquiry of a server running on SQLite (the test server's own file)."""
    import sqlite3

    path = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("select max(id) from product_inquiries").fetchone()[0]
