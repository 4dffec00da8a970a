"""Push latency: from a shopper's message to the Web Push request reaching the push service.

    .venv/bin/python bench/push_latency.py --messages 200
    .venv/bin/python bench/push_latency.py --messages 200 --mariadb
    .venv/bin/python bench/push_latency.py --messages 50 --worker

A benchmark, not a test: it prints figures and never passes or fails.

The real server (gunicorn, 1 gevent worker, production settings, PUSH_ALLOW_PRIVATE_ENDPOINTS
so the push service can be a plain-HTTP one on loopback, ``tests/push_service.py``). The
demo admin logs in and subscribes one device (POST /api/admin/push-subscriptions), then
one shopper sends --messages follow-ups one after another through the JSON API. For
each: the time from just before the POST to the push service having the whole push
request (VAPID-signed and aes128gcm-encrypted; each one decrypted with the device's key
to check it names that message), and the POST's own time, as p50/p90/p99/max.

By default the push leaves from the sending process right after its commit (the outbox
row is the record; the worker retries). ``--worker`` turns that off
(PUSH_DELIVER_AT_ONCE=false) and runs ``flask chat worker --interval 1``: every push then
leaves from the worker's next round.
"""

import argparse
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import BIN, ROOT, Side  # noqa: E402

sys.path.insert(0, ROOT)
from tests.push_service import Browser, PushService  # noqa: E402


def _percentiles(values):
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"p50 {pick(0.5):7.1f} ms   p90 {pick(0.9):7.1f} ms   p99 {pick(0.99):7.1f} ms   max {ordered[-1]:7.1f} ms"


def _post(opener, url, body, headers):
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with opener.open(request, timeout=10) as response:
        return response.headers, json.loads(response.read())


def _subscribe(side, device, endpoint):
    """Log the demo admin in through the form and subscribe ``device``; returns the subscription id."""
    out = subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "seed-demo"],
        env=side.env,
        cwd=side.tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    password = out.split("Admin login: admin@example.com / ")[1].split()[0]
    admin = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = admin.open(side.url + "/admin/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode({"email": "admin@example.com", "password": password, "csrf_token": token})
    admin.open(urllib.request.Request(side.url + "/admin/login", body.encode(), method="POST"), timeout=10).read()
    page = admin.open(side.url + "/admin", timeout=10).read().decode()
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    headers = {"Content-Type": "application/json", "X-CSRFToken": csrf, "Referer": side.url + "/admin"}
    _, created = _post(admin, side.url + "/api/admin/push-subscriptions", device.subscription(endpoint), headers)
    return created["id"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--mariadb", action="store_true", help="MariaDB instead of a SQLite file")
    parser.add_argument("--worker", action="store_true", help="pushes leave from `flask chat worker` only")
    args = parser.parse_args()
    settings = {"PUSH_ALLOW_PRIVATE_ENDPOINTS": "true", "MAIL_PORT": "1"}
    if args.worker:
        settings["PUSH_DELIVER_AT_ONCE"] = "false"
    side = Side("push", ROOT, mariadb=args.mariadb, **settings)
    device = Browser()
    worker = None
    with PushService() as service:
        side.start()
        try:
            _subscribe(side, device, service.endpoint())
            if args.worker:
                worker = subprocess.Popen(
                    [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "worker", "--interval", "1"],
                    env=side.env,
                    cwd=side.tree,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            shopper = urllib.request.build_opener()
            headers = {"Content-Type": "application/json"}
            answer_headers, _ = _post(shopper, side.url + "/api/products/1/messages", {"message_text": "hi"}, headers)
            headers["X-Chat-Session"] = answer_headers["X-Chat-Session"]
            service.wait_for(1, seconds=30)
            to_push, to_answer = [], []
            for n in range(args.messages):
                before = time.monotonic()
                _, message = _post(shopper, side.url + "/api/products/1/messages", {"message_text": f"m{n}"}, headers)
                answered = time.monotonic()
                request = service.wait_for(n + 2, seconds=30)[n + 1]
                assert device.decrypt(request)["message_id"] == message["id"]
                to_push.append((request["at"] - before) * 1000)
                to_answer.append((answered - before) * 1000)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait()
            side.stop()
    database = "MariaDB" if args.mariadb else "SQLite"
    sender = "the worker (--interval 1, PUSH_DELIVER_AT_ONCE=false)" if args.worker else "the sending process"
    print(f"{args.messages} messages, one after another, {database}, 1 gevent worker, pushed from {sender}")
    print(f"  send answered (201):         {_percentiles(to_answer)}")
    print(f"  push at the push service:    {_percentiles(to_push)}")


if __name__ == "__main__":
    main()
