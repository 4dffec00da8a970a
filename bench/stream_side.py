"""The admin streams' side of a customer message, in-process: no server, no sockets.

    .venv/bin/python bench/stream_side.py                    # 2, 40 and 80 pages
    .venv/bin/python bench/stream_side.py --pages 40,80 --messages 500
    .venv/bin/python bench/stream_side.py --callgrind        # instructions, not seconds

A benchmark, not a test: it prints figures and never passes or fails.

``admin_fanout.py`` measures what a message costs the whole worker with 40 admin pages
open. This one splits that cost: the app (production config, SQLite, the in-process
broker, gevent's threading as in the worker) opens ``pages`` admin streams through the test client, as
``admin_fanout.py`` does (half list pages, half inquiry pages, one per shopper,
round-robin; past 40 pages, list pages only). Then for each customer message (20 shoppers, round-robin) it times, after
the send returns, one step of every open stream: taking the events, answering them
(rendering or the look-up of what another page rendered), the SSE bytes. What it leaves
out is the server's part: gunicorn writing each chunk to its socket, and gevent waking each
stream's greenlet.

- pages 2 (one list page, one inquiry page): about the renders alone;
- from 40 to 80 pages: the same two renders a message, and 40 more list pages that take
  what the first rendered; the difference is what one more page costs (``per extra page``).

With ``--callgrind`` each number of pages (and 0) runs under valgrind twice, with
``--messages`` and twice as many; the difference of the two totals, per message, less the
same with no page open (the send itself), is what the streams' side costs a message in
instructions: comparable with ``admin_fanout.py --callgrind``, whose difference is the rest
(the server's part). About 2 minutes a run.
"""

import argparse
import json
import os
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.inprocess import app_with_demo  # noqa: E402


def run(pages, messages):
    import gevent
    from flask import template_rendered

    from tests.chat_helpers import admin_login
    from tests.test_inbox import Customer

    app, (email, password) = app_with_demo(tempfile.mkdtemp(prefix="stream-side-"))
    app.config.update(SSE_HEARTBEAT_SECONDS=3600, WTF_CSRF_ENABLED=False)  # the test client logs in by form
    client = app.test_client()
    admin_login(client, email, password)
    shoppers = [Customer(app, 1) for _ in range(20)]
    firsts = [s.says(f"Question {i}") for i, s in enumerate(shoppers)]
    since = max(m["id"] for m in firsts)
    streams = []
    for i in range(pages):
        first = firsts[(i // 2) % len(firsts)]
        inquiry_page = i % 2 == 1 and i < 2 * len(firsts)  # past 40: list pages only
        query = f"inquiry={first['inquiry_id']}&after={first['id']}" if inquiry_page else f"since={since}"
        response = client.get(f"/admin/stream?{query}", buffered=False, headers={"Accept": "text/event-stream"})
        chunks, seen = iter(response.response), b""
        while b"event:ready" not in seen:
            seen += next(chunks)
        streams.append(chunks)
    # The collector as the gunicorn worker sets it (gunicorn.conf.py): start-up frozen, young
    # collections every 50,000 allocations. With Python's defaults, collections of the whole
    # heap would grow with the pages and count as theirs.
    runpy.run_path(os.path.join(ROOT, "gunicorn.conf.py"))["tune_gc"]()
    renders = []
    template_rendered.connect(lambda *_a, **_k: renders.append(1), app, weak=False)

    def one(i):
        shoppers[i % len(shoppers)].says(f"Follow-up {i}")
        started = time.perf_counter()
        for chunks in streams:
            next(chunks)  # the stream's next write: one per message (its events come in one batch)
        took = time.perf_counter() - started
        gevent.sleep(0)  # the hub's turn: the delivered marks' flusher, when due
        return took

    for i in range(20):  # warm up
        one(i)
    del renders[:]
    times = [one(i) for i in range(messages)]
    return {"pages": pages, "us": statistics.median(times) * 1e6, "renders": len(renders) / messages}


def child(pages, messages, callgrind_out=None):
    """``run`` in a process of its own (under valgrind with ``callgrind_out``): its row, and
    with valgrind the instructions the process executed."""
    # gevent's threading, as in the gunicorn worker (its Events, locks and the delivered
    # marks' flusher); patched before anything imports threading.
    code = (
        "from gevent import monkey; monkey.patch_all(); "
        f"import json, bench.stream_side as b; print(json.dumps(b.run({pages}, {messages})))"
    )
    command = [sys.executable, "-c", code]
    if callgrind_out:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind_out}"] + command
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if callgrind_out:
        with open(callgrind_out) as fh:
            row["instructions"] = int(re.search(r"^summary: (\d+)", fh.read(), re.M).group(1))
    return row


def callgrind(pages_list, messages):
    """Instructions of the streams' side per message, for each number of pages."""
    workdir = tempfile.mkdtemp(prefix="stream-side-cg-")
    child(0, 1)  # a checkout's first app compresses its static files once, into the checkout: not counted
    per_message = {}
    for pages in [0] + [p for p in pages_list if p]:
        once, twice = (child(pages, n, os.path.join(workdir, f"cg.{pages}.{n}")) for n in (messages, 2 * messages))
        per_message[pages] = (twice["instructions"] - once["instructions"]) / messages
        print({"pages": pages, "M instr/msg (send and streams)": per_message[pages] / 1e6}, flush=True)
    print(f"\n{messages} messages; the streams' side per message (less the send: the same with 0 pages)")
    print(f"{'pages':>5} {'M instr/msg':>11} {'per extra page k':>16}")
    previous = None
    for pages in sorted(per_message):
        if not pages:
            continue
        side = (per_message[pages] - per_message[0]) / 1e6
        slope = (side - previous[1]) * 1e3 / (pages - previous[0]) if previous else None
        print(f"{pages:>5} {side:>11.2f} {format(slope, '16.0f') if slope is not None else format('', '>16')}")
        previous = (pages, side)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", default="2,40,80", help="admin pages open (half list, half inquiry pages)")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--callgrind", action="store_true", help="count instructions (valgrind)")
    args = parser.parse_args()
    if args.callgrind:
        callgrind([int(p) for p in args.pages.split(",")], min(args.messages, 100))
        return
    rows = []
    for pages in [int(p) for p in args.pages.split(",")]:
        # A process per count: nothing of one run's app (its broker, its streams) in the next.
        rows.append(child(pages, args.messages))
        print(rows[-1], flush=True)
    print(f"\n{args.messages} customer messages; median time of the streams' side per message")
    print(f"{'pages':>5} {'us/msg':>8} {'renders/msg':>11} {'per extra page us':>17}")
    for before, row in zip([None] + rows, rows):
        slope = (row["us"] - before["us"]) / (row["pages"] - before["pages"]) if before else None
        print(
            f"{row['pages']:>5} {row['us']:>8.0f} {row['renders']:>11.1f} "
            f"{format(slope, '17.1f') if slope is not None else format('', '>17')}"
        )


if __name__ == "__main__":
    main()
