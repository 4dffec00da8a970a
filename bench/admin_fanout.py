"""What an open admin page costs each customer message: worker CPU, renders, SQL, bytes.

    .venv/bin/python bench/admin_fanout.py                        # this tree: 0 and 40 pages
    .venv/bin/python bench/admin_fanout.py --old-tree /tmp/old    # the same run against another checkout
    .venv/bin/python bench/admin_fanout.py --messages 100 --pages 0,10,40
    .venv/bin/python bench/admin_fanout.py --callgrind --messages 40  # instructions, not seconds

A benchmark, not a test: it prints figures and never passes or fails.

For each tree and each number of admin pages a fresh server is started (gunicorn,
gunicorn.conf.py, ONE gevent worker, production config, SQLite, the in-process
broker, heartbeats every 60 s so they do not count), the demo seeded and the
demo admin logged in. 20 shoppers each start an inquiry. Then ``pages`` admin
streams are opened the way the pages open them: half list pages
(``/admin/stream?since=<id>``, the "Waiting for us" list), half inquiry pages
(``/admin/stream?inquiry=<id>&after=<id>``, one per shopper). Then:

1. ``--messages`` customer follow-ups over the JSON API, one after another,
   round-robin over the 20 shoppers (so every message concerns an open
   inquiry page when pages are open). Worker CPU (utime+stime of the worker
   from /proc), template renders and SQL statements (counters in /live/stats,
   this tree only) and bytes pushed to the admin streams, each per message.
2. ``--rate`` messages a second for ``--seconds``: delivery latency to the
   admin pages, from just before the POST to the arrival of the message's
   ``customer-wrote`` event on each open page (every admin page gets one).

With ``--callgrind`` the worker runs under valgrind's callgrind, and each number of
pages runs twice: with ``--messages`` and with none. The difference of the worker's
instructions over its life, per message, is what a message cost it, every page's
events included. Unlike CPU seconds it does not move with what else the machine is
doing, so the ratio of 40 pages to none can be read from one run. Step 2 is skipped
(latency under valgrind means nothing). callgrind_control cannot reach a forked
worker, hence two whole runs rather than counters zeroed mid-run.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, ROOT)

from tests.live_server import free_port  # noqa: E402


class Server:
    def __init__(self, tree, workdir, callgrind=False):
        self.tree, self.port, self.workdir = tree, free_port(), workdir
        self.slow = 40 if callgrind else 1  # valgrind runs Python some 40 times slower
        db = os.path.join(workdir, "bench.sqlite")
        self.env = dict(
            os.environ,
            CHAT_CONFIG="production",
            SECRET_KEY="bench-secret",
            SESSION_COOKIE_SECURE="false",
            DATABASE_URL=f"sqlite:///{db}",
            RATELIMIT_ENABLED="false",
            GUNICORN_GRACEFUL_TIMEOUT="1",
            PYTHONPATH=tree,
            LIVE_STATS_ENABLED="true",
            SSE_HEARTBEAT_SECONDS="60",
        )
        self.env.pop("REDIS_URL", None)
        flask = [os.path.join(BIN, "flask"), "--app", "wsgi"]
        subprocess.run(flask + ["db", "upgrade"], env=self.env, cwd=tree, check=True, capture_output=True)
        out = subprocess.run(
            flask + ["chat", "seed-demo"], env=self.env, cwd=tree, check=True, capture_output=True, text=True
        ).stdout
        self.email, self.password = re.search(r"Admin login: (\S+) / (\S+)", out).groups()
        self.log = open(os.path.join(workdir, "server.log"), "w")
        wrap = []
        if callgrind:
            # A fork is followed by itself: the worker writes callgrind.<pid> when it exits.
            wrap = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/callgrind.%p", sys.executable]
            self.env.update(GUNICORN_TIMEOUT="3600", GUNICORN_GRACEFUL_TIMEOUT="600", SSE_HEARTBEAT_SECONDS="3600")
        self.proc = subprocess.Popen(
            wrap
            + [
                os.path.join(BIN, "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "wsgi:app",
            ],
            cwd=tree,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60 * self.slow
        while True:
            try:
                self.request("GET", "/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30 * self.slow)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def stats(self):
        return json.loads(self.request("GET", "/live/stats")[1])

    def cpu_seconds(self, pid):
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def instructions(self, pid):
        """What the worker ``pid`` executed over its life (callgrind's file, once it has exited)."""
        with open(os.path.join(self.workdir, f"callgrind.{pid}")) as fh:
            return int(re.search(r"^summary: (\d+)", fh.read(), re.M).group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15 * self.slow)
        self.log.close()


def login(server):
    response, body = server.request("GET", "/admin/login")
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body)
    form = urllib.parse.urlencode(
        {"email": server.email, "password": server.password, "csrf_token": token.group(1).decode()}
    )
    response, _ = server.request(
        "POST", "/admin/login", form, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status in (302, 303), response.status
    return response.getheader("Set-Cookie").split(";")[0]


class Shopper:
    def __init__(self, server, product_id=1):
        self.server, self.product_id, self.token = server, product_id, None

    def says(self, text):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Chat-Session"] = self.token
        response, body = self.server.request(
            "POST", f"/api/products/{self.product_id}/messages", json.dumps({"message_text": text}), headers
        )
        assert response.status == 201, body
        self.token = response.getheader("X-Chat-Session") or self.token
        return json.loads(body)


class AdminStream(threading.Thread):
    """Reads one admin stream: bytes, and when each customer-wrote event arrived."""

    def __init__(self, server, cookie, path):
        super().__init__(daemon=True)
        self.server, self.cookie, self.path = server, cookie, path
        self.bytes = 0
        self.ready = threading.Event()
        self.wrote = {}  # message id -> arrival time
        self.stop = False

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        conn.request("GET", self.path, headers={"Cookie": self.cookie, "Accept": "text/event-stream"})
        response = conn.getresponse()
        buffer = b""
        while not self.stop:
            chunk = response.read1(65536)
            if not chunk:
                break
            now = time.monotonic()
            self.bytes += len(chunk)
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                if block.startswith(b"event:ready"):
                    self.ready.set()
                elif block.startswith(b"event:customer-wrote"):
                    data = json.loads(block.split(b"data:", 1)[1])
                    self.wrote[data["message_id"]] = now


def scenario(tree, pages, args):
    workdir = tempfile.mkdtemp(prefix="admin-fanout-")
    server = Server(tree, workdir, args.callgrind)
    try:
        cookie = login(server)
        shoppers = [Shopper(server) for _ in range(20)]
        firsts = [s.says(f"Question {i}") for i, s in enumerate(shoppers)]
        last_id = max(m["id"] for m in firsts)
        streams = []
        for i in range(pages):
            if i % 2 == 0:
                path = f"/admin/stream?since={last_id}"
            else:
                inquiry = firsts[(i // 2) % len(firsts)]
                path = f"/admin/stream?inquiry={inquiry['inquiry_id']}&after={inquiry['id']}"
            stream = AdminStream(server, cookie, path)
            stream.start()
            streams.append(stream)
        for stream in streams:
            assert stream.ready.wait(30 * server.slow), stream.path
        pid = server.stats()["pid"]
        for i in range(10):  # warm up
            shoppers[i % 20].says(f"warm-up {i}")
        time.sleep(0.5 * server.slow)
        before, cpu0 = server.stats(), server.cpu_seconds(pid)
        bytes0 = sum(s.bytes for s in streams)
        started = time.monotonic()
        ids = [shoppers[i % 20].says(f"Follow-up {i}")["id"] for i in range(args.messages)]
        elapsed = time.monotonic() - started
        # Every page hears every message (as the latency phase counts): wait for all of them,
        # so the count covers the fan-out whatever valgrind's pace.
        deadline = time.monotonic() + 1.0 * server.slow
        while time.monotonic() < deadline and not all(m in s.wrote for s in streams for m in ids):
            time.sleep(0.1)
        time.sleep(1.0)
        after, cpu1 = server.stats(), server.cpu_seconds(pid)
        n = max(args.messages, 1)
        row = {
            "pages": pages,
            "cpu_ms": (cpu1 - cpu0) * 1000 / n,
            "pid": pid,
            "rate": n / elapsed,
            "kb": (sum(s.bytes for s in streams) - bytes0) / 1024 / n,
            "renders": (after["renders"] - before["renders"]) / n if "renders" in after else None,
            "sql": (after["sql_statements"] - before["sql_statements"]) / n if "sql_statements" in after else None,
        }
        if args.callgrind:
            row.update(delivered=f"{sum(m in s.wrote for s in streams for m in ids)}/{len(ids) * len(streams)}")
            row.update(p50=None, p99=None, paced_rate=None)
            for stream in streams:
                stream.stop = True
            server.stop()
            row["instructions"] = server.instructions(pid)
            return row
        # Latency at a steady rate.
        sent = {}
        total = int(args.rate * args.seconds)
        started = time.monotonic()
        for i in range(total):
            pause = started + i / args.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            t = time.monotonic()
            sent[shoppers[i % 20].says(f"Paced {i}")["id"]] = t
        time.sleep(1.5)
        lat = sorted((stream.wrote[m] - t) * 1000 for stream in streams for m, t in sent.items() if m in stream.wrote)
        expected = len(sent) * len(streams)
        row["delivered"] = f"{len(lat)}/{expected}" if streams else "-"
        row["p50"] = statistics.median(lat) if lat else None
        row["p99"] = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None
        row["paced_rate"] = total / (time.monotonic() - started - 1.5)
        for stream in streams:
            stream.stop = True
        return row
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def fmt(value, spec):
    return format(value, spec) if isinstance(value, (int, float)) else format("n/a", ">" + spec.split(".")[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", default="0,40", help="admin pages open (half list, half inquiry pages)")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50, help="messages a second in the latency phase")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--old-tree", help="another checkout to run side by side (e.g. git archive of main)")
    parser.add_argument("--callgrind", action="store_true", help="count the worker's instructions (valgrind)")
    args = parser.parse_args()
    trees = [("this", ROOT)] + ([("old", os.path.abspath(args.old_tree))] if args.old_tree else [])
    rows = []
    for name, tree in trees:
        for pages in [int(p) for p in args.pages.split(",")]:
            row = scenario(tree, pages, args)
            if args.callgrind:  # the same run without the messages: the difference is theirs
                idle = scenario(tree, pages, argparse.Namespace(**{**vars(args), "messages": 0}))
                row["minstr"] = (row["instructions"] - idle["instructions"]) / args.messages / 1e6
                row["idle_instructions"] = idle["instructions"]
            row["tree"] = name
            rows.append(row)
            print(row, flush=True)
    measure = "minstr" if args.callgrind else "cpu_ms"  # what "x none" compares
    print(f"\n{args.messages} sequential customer messages; latency at {args.rate:g}/s for {args.seconds:g} s")
    print(
        f"{'tree':<5} {'pages':>5} {'CPU ms/msg':>10} {'M instr/msg':>11} {'x none':>6} {'msgs/s':>6} "
        f"{'renders/msg':>11} {'SQL/msg':>7} {'KB pushed/msg':>13} {'delivered':>11} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for row in rows:
        base = next((r for r in rows if r["tree"] == row["tree"] and r["pages"] == 0), None)
        ratio = row[measure] / base[measure] if base else None
        print(
            f"{row['tree']:<5} {row['pages']:>5} {row['cpu_ms']:>10.2f} {fmt(row.get('minstr'), '11.2f')} "
            f"{fmt(ratio, '6.2f')} {row['rate']:>6.0f} {fmt(row['renders'], '11.1f')} {fmt(row['sql'], '7.1f')} "
            f"{row['kb']:>13.2f} {row['delivered']:>11} {fmt(row['p50'], '7.1f')} {fmt(row['p99'], '7.1f')}"
        )


if __name__ == "__main__":
    main()
