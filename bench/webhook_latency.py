"""Webhook latency: from a shopper's send to the signed request reaching the shop's receiver.

    .venv/bin/python bench/webhook_latency.py --messages 200
    .venv/bin/python bench/webhook_latency.py --messages 200 --mariadb

A benchmark, not a test: it prints figures and never passes or fails.

The real server (gunicorn, 1 gevent worker, production settings, WEBHOOK_ALLOW_PRIVATE
so the receiver can be on loopback) with one endpoint taking ``message.created``; no
worker process runs, so every request comes from the send's own process right after
its commit (the worker would only retry). One shopper sends --messages follow-ups
one after another through the JSON API; for each, the time from just before the POST
to the receiver having the whole webhook request (verified with the standardwebhooks
library), and the POST's own time, as p50/p90/p99/max.
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import ROOT, Side  # noqa: E402

sys.path.insert(0, ROOT)
from tests.webhook_receiver import Receiver  # noqa: E402


def _post(url, body, headers):
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers, json.loads(response.read())


def _percentiles(values):
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"p50 {pick(0.5):7.1f} ms   p90 {pick(0.9):7.1f} ms   p99 {pick(0.99):7.1f} ms   max {ordered[-1]:7.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--mariadb", action="store_true", help="MariaDB instead of a SQLite file")
    args = parser.parse_args()
    side = Side("webhooks", ROOT, mariadb=args.mariadb, WEBHOOK_ALLOW_PRIVATE="true")
    with Receiver() as receiver:
        side.start()
        try:
            token = _token(side)
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            _, endpoint = _post(
                side.url + "/api/admin/webhooks", {"url": receiver.url, "events": ["message.created"]}, auth
            )
            secret = endpoint["secret"]
            headers = {"Content-Type": "application/json", "X-Requested-With": "bench"}
            answer_headers, _ = _post(side.url + "/api/products/1/messages", {"message_text": "warm-up"}, headers)
            headers["X-Chat-Session"] = answer_headers["X-Chat-Session"]
            receiver.wait_for(1)
            to_webhook, to_answer = [], []
            for n in range(args.messages):
                before = time.monotonic()
                _post(side.url + "/api/products/1/messages", {"message_text": f"message {n}"}, headers)
                answered = time.monotonic()
                request = receiver.wait_for(n + 2)[n + 1]
                assert receiver.verified(secret, request)["data"]["message"]["text"] == f"message {n}"
                to_webhook.append((request["at"] - before) * 1000)
                to_answer.append((answered - before) * 1000)
        finally:
            side.stop()
    database = "MariaDB" if args.mariadb else "SQLite"
    print(f"{args.messages} messages, one after another, {database}, 1 gevent worker, no worker process")
    print(f"  send answered (201):         {_percentiles(to_answer)}")
    print(f"  webhook at the receiver:     {_percentiles(to_webhook)}")
    print(f"  mean send -> webhook: {statistics.mean(to_webhook):.1f} ms")


def _token(side):
    import subprocess

    from servers import BIN

    out = subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "create-token", "admin@example.com"],
        env=side.env,
        cwd=side.tree,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


if __name__ == "__main__":
    main()
