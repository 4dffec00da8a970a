"""Requests an open shopper chat and an open admin inquiry page make while our server is down.

    .venv/bin/python bench/outage_tabs.py                        # this tree only
    .venv/bin/python bench/outage_tabs.py --baseline c033f58     # and an older commit, in the same run

A benchmark, not a test: it prints figures and never passes or fails.

Each side is a gunicorn server (one gevent worker, SQLite, seeded with the demo shop) of
this tree or of an older checkout (`git worktree add --detach`, removed after), so each
side's pages run their own JavaScript. In one Chromium context: a shopper on a demo
product page with the chat open and a message sent (its stream open), and the demo admin
on that inquiry's page. Then the server stops (SIGTERM) for --seconds, and every request
the two tabs make is counted and refused (Playwright routing), on Playwright's fake clock
moved in half-second steps (tests/outage.py): a minute costs seconds of real time. An
answer is written in the admin tab and a message in the chat while the server is down.
Printed per tab: requests in each 10 s, the total per minute, and the timers the tab has
pending at the end. A side whose tabs pass --most requests stops counting there (its pages
freeze long before a real minute is over).
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import ROOT, Side, tree_at  # noqa: E402

from tests.browser import ARGS, CHROMIUM  # noqa: E402
from tests.live_server import BIN  # noqa: E402
from tests.outage import Outage, pending_timers  # noqa: E402


class Restartable:
    """A Side as tests/outage.py drives a server: stop() and start() keep its database."""

    def __init__(self, side):
        self.side, self.url = side, side.url

    def stop(self):
        self.side.halt()

    def start(self):
        self.side.launch()
        self.side.wait_until_up()


def admin_password(side):
    out = subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "seed-demo"],
        env=side.env,
        cwd=side.tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split("Admin login: admin@example.com / ")[1].split()[0]


def measure(browser, side, seconds, most):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    outage = Outage(context, Restartable(side))
    shopper = context.new_page()
    shopper.goto(side.url + "/products/2")
    shopper.get_by_role("button", name=re.compile("Ask a question")).click()
    chat = shopper.frame_locator("iframe[title='Chat with the shop']")
    with shopper.expect_response(lambda r: "/stream?" in r.url and r.status == 200, timeout=20000):
        chat.locator("textarea").fill("Is the mug included?")
        chat.locator("textarea").press("Enter")
    chat.locator("li.msg.own:not(.pending)").wait_for()

    admin = context.new_page()
    admin.goto(side.url + "/admin/login")
    admin.get_by_label("Email").fill("admin@example.com")
    admin.get_by_label("Password").fill(side.password)
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_url(re.compile(r".*/admin(/inquiries)?(\?.*)?$"))
    admin.locator("tr.inquiry-row").first.wait_for()
    with admin.expect_response(lambda r: "/admin/stream?inquiry=" in r.url and r.status == 200, timeout=20000):
        admin.locator("tr.inquiry-row a").first.click()

    outage.begin(shopper)
    chat.locator("textarea").fill("Written while it was down")
    chat.locator("textarea").press("Enter")
    admin.locator("#chat-text").fill("Answered while it was down")
    admin.locator("#chat-text").press("Enter")
    outage.run(shopper, seconds, most=most)
    chat_frame = shopper.frame(url=re.compile(r".*/embed/.*/products/.*"))
    rows = []
    for name, page, frame in (
        ("shopper, chat open", shopper, chat_frame),
        ("admin, inquiry page", admin, admin.main_frame),
    ):
        counts = outage.per_window(page, seconds=10, until=seconds)
        total = len([1 for at, _ in outage.of(page) if at < seconds])
        counted = min(outage.elapsed, seconds) or seconds
        try:
            timers = pending_timers(frame)
        except Exception:  # noqa: BLE001 - a frozen page
            timers = "?"
        rows.append((name, counts, total * 60 / counted, timers, outage.elapsed < seconds))
    outage.down = False
    context.close()
    side.launch()
    side.wait_until_up()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git ref to compare with, in the same run")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--most", type=int, default=3000, help="stop counting a side after this many requests")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tree_at(args.baseline) as baseline:
        sides = [Side(f"baseline {args.baseline}", baseline)] if args.baseline else []
        sides.append(Side("this tree", ROOT))
        results = {}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for side in sides:
                    side.start()
                    side.password = admin_password(side)
                    started = time.monotonic()
                    results[side.name] = (measure(browser, side, args.seconds, args.most), time.monotonic() - started)
                    side.stop()
                browser.close()
        finally:
            for side in sides:
                side.stop()
    print(f"Server stopped for {args.seconds:g} s (fake clock); requests each tab made to it, refused")
    print("| side | tab | requests per 10 s | per minute | timers pending at the end |")
    print("|---|---|---|---|---|")
    for name, (rows, _) in results.items():
        for tab, counts, per_minute, timers, cut_short in rows:
            note = f" (stopped counting at {args.most} requests)" if cut_short else ""
            print(f"| {name} | {tab} | {counts} | {per_minute:.0f}{note} | {timers} |")


if __name__ == "__main__":
    main()
