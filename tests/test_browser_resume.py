"""An answer mail's link opened in a browser that has a chat of its own: the chat asks, in plain
words, with two buttons, and replaces nothing unless the shopper picks the link. The link works once."""

import os
import re
import sqlite3
import subprocess

import pytest

from .browser import screenshot
from .live_server import BIN, ROOT
from .widget import Widget, admin_reply, last_inquiry_id

pytestmark = pytest.mark.browser


def emailed_link(server, inquiry_id):
    """The shop answers; the worker writes the answer mail (its customer has not read it): its link."""
    admin_reply(server, inquiry_id, "Yes, the strap is adjustable.")
    env = dict(server.env, NOTIFY_CUSTOMER_UNREAD_MINUTES="0")
    flask = [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "notify"]
    subprocess.run(flask, env=env, cwd=ROOT, check=True, capture_output=True)
    with sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        body = conn.execute(
            "select body_text from outbox_emails where inquiry_id = ? and dedupe_key like 'answer:%'", (inquiry_id,)
        ).fetchone()[0]
    return re.search(r"(http\S+#productchat-resume=\S+)", body).group(1)


def open_link(page, server, link):
    page.goto(server.url + "/")  # a new document: the loader reads the link's fragment when it loads
    page.goto(link)
    return Widget(page)


def test_a_mailed_link_asks_before_it_replaces_a_chat_and_works_once(browser, shop_server):
    asker = browser.new_context()
    page = asker.new_page()
    page.goto(shop_server.url + "/products/2")
    widget = Widget(page).open()
    widget.send("Is the strap adjustable?")
    widget.frame.get_by_text("Get answers by email").click()
    widget.frame.get_by_label("Email", exact=True).fill("ann@example.com")
    widget.frame.get_by_role("checkbox").check()
    widget.frame.get_by_role("button", name="Save email").click()
    widget.frame.get_by_text("We'll email ann@example.com").wait_for()
    asker.close()  # away: the answer stays unread, so it is mailed
    link = emailed_link(shop_server, last_inquiry_id(shop_server))
    assert link.startswith(shop_server.url + "/products/2#productchat-resume=")

    # Someone with a chat of their own opens the link (a forwarded mail, a link sent by a stranger).
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(shop_server.url + "/products/2")
    widget = Widget(page).open()
    widget.send("My own question")
    widget = open_link(page, shop_server, link)
    choice = widget.frame.get_by_role("alertdialog", name="Open the conversation from your email?")
    choice.wait_for()
    assert "You already have a chat here" in choice.inner_text()
    screenshot(page, "resume-link-asks")
    choice.get_by_role("button", name="Keep my current chat").click()
    choice.wait_for(state="hidden")
    widget.log.locator("li.own", has_text="My own question").wait_for()
    assert widget.own_texts() == ["My own question"]

    # Opened again, and this time the shopper chooses the emailed conversation.
    widget = open_link(page, shop_server, link)
    choice = widget.frame.get_by_role("alertdialog", name="Open the conversation from your email?")
    choice.get_by_role("button", name="Open the emailed conversation").click()
    widget.log.locator("li.theirs", has_text="Yes, the strap is adjustable.").wait_for()
    assert widget.own_texts() == ["Is the strap adjustable?"]
    page.reload()  # the page keeps the chosen conversation
    Widget(page).log.locator("li.own", has_text="Is the strap adjustable?").wait_for()  # the panel stays open
    context.close()

    # The link has been used: in another browser it opens nothing.
    other = browser.new_context()
    page = other.new_page()
    widget = open_link(page, shop_server, link)
    widget.frame.get_by_role("status").filter(has_text="This link has been used already").wait_for()
    assert widget.own_texts() == []
    screenshot(page, "resume-link-used")
    other.close()
