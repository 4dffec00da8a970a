"""Every SQL statement of ONE customer send, and where in our code it comes from.

    .venv/bin/python bench/send_statements.py                          # SQLite, this tree
    .venv/bin/python bench/send_statements.py --db mariadb             # a scratch MariaDB database
    .venv/bin/python bench/send_statements.py --tree /tmp/old          # another checkout
    .venv/bin/python bench/send_statements.py --rate-limits            # with Flask-Limiter on (memory storage)

A benchmark, not a test: it prints statements and never passes or fails. In one
process (test client, the in-process broker, no admin page open) the demo is
seeded, a shopper opens an inquiry with a first message and sends a warm-up
follow-up; then one more follow-up is traced: over the JSON API
(``POST /api/products/<id>/messages``, as ``admin_fanout.py`` sends them) and
through the widget (``POST /embed/demo/products/<id>/messages``). Each statement
is printed with the innermost frames of ``chat/`` that ran it (the after-commit
work included: it runs inside the request).
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from servers import run_in_tree  # noqa: E402

RUN = r"""
import json, os, sys, traceback, uuid
sys.path.insert(0, os.getcwd())
import sqlalchemy as sa
from chat import create_app
from chat.demo import seed_demo, seed_demo_agent
from chat.extensions import db
from tests.conftest import _config

url, rate_limits = sys.argv[1], sys.argv[2] == "1"
app = create_app(_config(url, RATELIMIT_ENABLED=rate_limits, RATELIMIT_STORAGE_URI="memory://"))
with app.app_context():
    db.create_all()
    seed_demo()
    seed_demo_agent()  # as `flask chat seed-demo` does: two people to push to
    engine = db.engine
here = os.path.join(os.getcwd(), "chat") + os.sep
traced = []
on = [False]

def origin():
    frames = [f for f in traceback.extract_stack() if f.filename.startswith(here)]
    return " < ".join(f"{f.filename[len(here):]}:{f.lineno} {f.name}" for f in reversed(frames[-3:]))

def executed(conn, cursor, statement, parameters, context, executemany):
    if on[0]:
        traced.append((" ".join(statement.split())[:150], origin()))

sa.event.listen(engine, "before_cursor_execute", executed)

def api(token, text):
    headers = {"X-Chat-Session": token} if token else {}
    response = client.post("/api/products/1/messages", json={"message_text": text, "client_message_id": str(uuid.uuid4())}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.headers.get("X-Chat-Session", token)

def embed(token, text):
    response = client.post(
        "/embed/demo/products/1/messages",
        data={"message_text": text, "client_message_id": str(uuid.uuid4())},
        headers={"X-Chat-Session": token, "HX-Request": "true"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.headers.get("X-Chat-Session") or token

client = app.test_client(use_cookies=False)
out = {}
for name, send in (("api", api), ("embed", embed)):
    token = send(None if name == "api" else "", "first question")
    token = send(token, "warm-up")
    on[0] = True
    send(token, "the traced follow-up")
    on[0] = False
    out[name] = traced[:]
    traced.clear()
print(json.dumps(out))
"""


def run(tree, url, rate_limits):
    return run_in_tree(tree, RUN, url, "1" if rate_limits else "0")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=ROOT)
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--rate-limits", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from tests import backends

    name = None
    if args.db == "mariadb":
        name, url = backends.create_mysql_database()
    else:
        url = "sqlite://"
    try:
        result = run(args.tree, url, args.rate_limits)
    finally:
        if name:
            backends.drop_mysql_database(name)
    for send, statements in result.items():
        print(f"\n{send}: {len(statements)} statements ({args.db}, tree {args.tree})")
        for n, (statement, where) in enumerate(statements, 1):
            print(f"{n:3}. {statement}\n       {where}")


if __name__ == "__main__":
    main()
