"""Database writes the delivered marks cost per customer message, with N admin pages open.

    .venv/bin/python bench/delivered_writes.py                       # this tree
    .venv/bin/python bench/delivered_writes.py --tree /tmp/old       # another checkout (git archive of main)
    .venv/bin/python bench/delivered_writes.py --pages 1,10,40 --messages 20
    .venv/bin/python bench/delivered_writes.py --shoppers 10 --pages 10  # 10 inquiries per flush

A benchmark, not a test: it prints figures and never passes or fails. In one process
(test client, SQLite, the in-process broker) ``shoppers`` shoppers (1 by default) each
have an inquiry and ``pages`` admin streams are open: half inquiry pages (spread over the
inquiries), half the "Waiting for us" list. Each round every shopper sends one message
(so one flush of the marks holds ``shoppers`` inquiries), then every stream is read until
quiet and the writer of the batched marks (if the tree has one) has stored them; counted
per customer message meanwhile: UPDATEs of product_messages, the marks' look-ups of what
is not marked yet, commits (write transactions: the inquiry pages' presence at each
heartbeat is one each) and every SQL statement.
"""

import argparse
import os
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from servers import run_in_tree  # noqa: E402

RUN = r"""
import json, os, sys, time
sys.path.insert(0, os.getcwd())
import sqlalchemy as sa
from chat import create_app
from chat.demo import seed_demo
from chat.extensions import db
from tests.conftest import _config
from tests.chat_helpers import admin_login
from tests.test_inbox import Customer, Stream

pages, messages, path, shoppers = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
app = create_app(_config("sqlite:///" + path, SSE_HEARTBEAT_SECONDS=0.2))
with app.app_context():
    db.create_all()
    login = seed_demo()
    engine = db.engine
client = app.test_client()
admin_login(client, *login)
people = [Customer(app, 1) for _ in range(shoppers)]
inquiry_ids = [shopper.says("first")["inquiry_id"] for shopper in people]
streams = [Stream(client, f"?inquiry={inquiry_ids[n % shoppers]}") for n in range(pages - pages // 2)]
streams += [Stream(client, "?status=waiting") for _ in range(pages // 2)]
for s in streams:
    s.until_quiet()
time.sleep(0.5)
counts = {"updates": 0, "mark_selects": 0, "commits": 0, "statements": 0}
on = [False]

def executed(conn, cursor, statement, *args):
    if on[0]:
        counts["statements"] += 1
        if statement.lstrip().upper().startswith("UPDATE PRODUCT_MESSAGES"):
            counts["updates"] += 1
        elif "delivered_at IS NULL" in statement:
            counts["mark_selects"] += 1  # a delivered mark's look-up of what is not marked yet

def committed(conn):
    if on[0]:
        counts["commits"] += 1

sa.event.listen(engine, "before_cursor_execute", executed)
sa.event.listen(engine, "commit", committed)
for n in range(messages):
    for shopper in people:
        shopper.says(f"message {n}")
    on[0] = True
    for s in streams:
        s.until_quiet(limit=30 * shoppers)
    time.sleep(0.4)  # the batched marks' writer stores within 0.2 s
    on[0] = False
print(json.dumps({key: value / (messages * shoppers) for key, value in counts.items()}))
"""


def run(tree, pages, messages, shoppers):
    with tempfile.TemporaryDirectory() as folder:
        return run_in_tree(tree, RUN, pages, messages, os.path.join(folder, "bench.sqlite"), shoppers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=ROOT)
    parser.add_argument("--pages", default="1,10,40")
    parser.add_argument("--messages", type=int, default=20, help="rounds: each shopper sends one message a round")
    parser.add_argument("--shoppers", type=int, default=1, help="inquiries (one shopper each)")
    args = parser.parse_args()
    print(f"tree {args.tree}, {args.shoppers} shopper(s): per customer message, while the admin streams deliver it")
    print("pages  UPDATEs  mark SELECTs  commits  SQL statements  (commits include inquiry pages' presence)")
    for pages in [int(p) for p in args.pages.split(",")]:
        started = time.monotonic()
        row = run(args.tree, pages, args.messages, args.shoppers)
        print(f"{pages:5} {row['updates']:8.1f} {row['mark_selects']:13.1f} {row['commits']:8.1f}", end="")
        print(f" {row['statements']:15.1f}", end="")
        print(f"   ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
