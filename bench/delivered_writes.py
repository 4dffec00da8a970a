"""Database writes the delivered marks cost per customer message, with N admin pages open.

    .venv/bin/python bench/delivered_writes.py                       # this tree
    .venv/bin/python bench/delivered_writes.py --tree /tmp/old       # another checkout (git archive of main)
    .venv/bin/python bench/delivered_writes.py --pages 1,10,40 --messages 20

A benchmark, not a test: it prints figures and never passes or fails. In one process
(test client, SQLite, the in-process broker) ``pages`` admin streams are open on one
inquiry: half its inquiry page, half the "Waiting for us" list. For each customer
message, after the send, every stream is read until quiet and the writer of the
batched marks (if the tree has one) has stored them; counted meanwhile: UPDATEs of
product_messages, the marks' look-ups of what is not marked yet, commits (write
transactions: the inquiry pages' presence at each heartbeat is one each) and every
SQL statement.
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

pages, messages, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
app = create_app(_config("sqlite:///" + path, SSE_HEARTBEAT_SECONDS=0.2))
with app.app_context():
    db.create_all()
    login = seed_demo()
    engine = db.engine
client = app.test_client()
admin_login(client, *login)
shopper = Customer(app, 1)
inquiry_id = shopper.says("first")["inquiry_id"]
streams = [Stream(client, f"?inquiry={inquiry_id}") for _ in range(pages - pages // 2)]
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
    shopper.says(f"message {n}")
    on[0] = True
    for s in streams:
        s.until_quiet()
    time.sleep(0.4)  # the batched marks' writer stores within 0.2 s
    on[0] = False
print(json.dumps({key: value / messages for key, value in counts.items()}))
"""


def run(tree, pages, messages):
    with tempfile.TemporaryDirectory() as folder:
        return run_in_tree(tree, RUN, pages, messages, os.path.join(folder, "bench.sqlite"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=ROOT)
    parser.add_argument("--pages", default="1,10,40")
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    print(f"tree {args.tree}: per customer message, while the admin streams deliver it")
    print("pages  UPDATEs  mark SELECTs  commits  SQL statements  (commits include inquiry pages' presence)")
    for pages in [int(p) for p in args.pages.split(",")]:
        started = time.monotonic()
        row = run(args.tree, pages, args.messages)
        print(f"{pages:5} {row['updates']:8.1f} {row['mark_selects']:13.1f} {row['commits']:8.1f}", end="")
        print(f" {row['statements']:15.1f}", end="")
        print(f"   ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
