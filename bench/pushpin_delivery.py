"""One shopper stream held by Pushpin; messages sent at a steady rate; each one's delay.

    .venv/bin/python bench/pushpin_delivery.py --rate 50 --count 60
    .venv/bin/python bench/pushpin_delivery.py --rate 10 --count 50
    .venv/bin/python bench/pushpin_delivery.py --rate 50 --count 60 --set message_wait=100

A benchmark, not a test: it prints figures and never passes or fails.

A fresh app (gunicorn, one gevent worker, SQLite, LIVE_PROXY=pushpin) and a fresh
Pushpin (deploy/pushpin/pushpin.conf on spare ports; ``--set name=value`` replaces a
line of it) are started. One shopper's stream goes through Pushpin; the shopper's
messages are POSTed to the app directly, one every 1/rate seconds. Printed: the delay
from each POST to the message's arrival on the stream, in the order sent, with p50
and p99, and any message that never arrived. Pushpin's log (level 2) shows when each
publish reached its handler.
"""

import argparse
import os
import pathlib
import re
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import requests  # noqa: E402

from tests.live_server import LiveServer, prepared_env  # noqa: E402
from tests.pushpin_server import Pushpin  # noqa: E402
from tests.sse_client import SSEClient  # noqa: E402


def run(rate, count, settings):
    workdir = tempfile.mkdtemp(prefix="pushpin-delivery-")
    server = LiveServer(None)
    proxy = Pushpin(server.port, "bench-key", settings=settings)
    server.env = prepared_env(
        pathlib.Path(workdir),
        f"sqlite:///{workdir}/bench.sqlite",
        LIVE_PROXY="pushpin",
        PUSHPIN_SIG_KEY="bench-key",
        PUSHPIN_PUBLISH_URL=proxy.publish_url,
    )
    with server, proxy:
        app = f"http://127.0.0.1:{server.port}"
        first = requests.post(
            f"{app}/api/products/1/messages", json={"message_text": "hello", "client_message_id": str(uuid.uuid4())}
        )
        token = first.headers["X-Chat-Session"]
        headers = {"X-Chat-Session": token}
        ticket = requests.post(f"{app}/embed/demo/stream-ticket", headers=headers).json()["ticket"]
        stream = SSEClient(f"{proxy.url}/embed/demo/stream?product=1&ticket={ticket}&after={first.json()['id']}")
        time.sleep(2.5)  # Pushpin asks the stream's catch-up a second after the hold
        sent, got = {}, {}

        def read():
            while len(got) < count:
                try:
                    event = stream.next(timeout=30)
                except Exception:  # noqa: BLE001 - the stream went quiet for 30 s: done
                    return
                found = re.search(r'data-client-id="([^"]+)"', event.data) if event.type == "message" else None
                if found:
                    got[found.group(1)] = time.monotonic()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        start = time.monotonic()
        for i in range(count):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            client_id = str(uuid.uuid4())
            sent[client_id] = time.monotonic()
            body = {"message_text": f"message {i}", "client_message_id": client_id}
            requests.post(f"{app}/api/products/1/messages", json=body, headers=headers).raise_for_status()
        reader.join(40)
        stream.close()
    delays = [(got[c] - t) * 1000 if c in got else None for c, t in sent.items()]
    arrived = sorted(d for d in delays if d is not None)
    print(f"{rate:g} messages/s, {count} sent, {len(arrived)} arrived")
    if arrived:
        print(
            f"delay p50 {arrived[len(arrived) // 2]:.0f} ms, p99 {arrived[max(0, int(len(arrived) * 0.99) - 1)]:.0f} ms"
        )
    print("delays in the order sent (ms):", " ".join("lost" if d is None else f"{d:.0f}" for d in delays))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="messages a second (default 50)")
    parser.add_argument("--count", type=int, default=60, help="messages sent (default 60)")
    parser.add_argument("--set", action="append", default=[], help="pushpin.conf line to replace: name=value")
    args = parser.parse_args(argv)
    run(args.rate, args.count, dict(item.split("=", 1) for item in args.set))


if __name__ == "__main__":
    main()
