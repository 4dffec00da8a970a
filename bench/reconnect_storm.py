"""Reconnect storm: how long a stream open waits for its response headers.

    .venv/bin/python bench/reconnect_storm.py                       # this tree only
    .venv/bin/python bench/reconnect_storm.py --baseline HEAD~1     # and an older commit, side by side
    .venv/bin/python bench/reconnect_storm.py --streams 50 --seconds 8 --rounds 3

A benchmark, not a test: it prints figures and never passes or fails.

Each side is a gunicorn server with 2 gevent workers on its own SQLite file
(and Redis on --redis-url, as in production), seeded with the demo shop. Every
one of --streams shoppers sends one message (its own session), then, for
--seconds, loops: ask for a stream ticket, open the embed stream, record the
time from sending the GET to the response's status line, hold the stream open
100-500 ms, close it. The sides take turns (--rounds rounds of both), so the
machine's noise falls on both alike. A --baseline REF is checked out with
`git worktree add --detach` into a temporary folder and removed afterwards.
All traffic goes to 127.0.0.1; every loop is bounded in time.
"""
import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tests.live_server import BIN, free_port  # noqa: E402


class Side:
    def __init__(self, name, tree, redis_url):
        self.name, self.tree, self.redis_url = name, tree, redis_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = tempfile.mkdtemp(prefix="storm-")
        self.waits, self.failures = [], 0

    def env(self):
        env = dict(os.environ, CHAT_CONFIG="production", SECRET_KEY="storm-bench", SESSION_COOKIE_SECURE="false",
                   DATABASE_URL=f"sqlite:///{self.folder}/chat.db", RATELIMIT_ENABLED="false",
                   GUNICORN_GRACEFUL_TIMEOUT="1", PYTHONPATH=self.tree, REDIS_URL=self.redis_url,
                   LIVE_CHANNEL_PREFIX=f"storm{self.port}:")
        return env

    def start(self):
        flask = [os.path.join(BIN, "flask"), "--app", "wsgi"]
        for step in (["db", "upgrade"], ["chat", "seed-demo"]):
            subprocess.run(flask + step, env=self.env(), cwd=self.tree, check=True, capture_output=True)
        self.log = open(os.path.join(self.folder, "server.log"), "w")
        self.process = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "2", "wsgi:app"], cwd=self.tree, env=self.env(), stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name}: server did not start")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


async def http(port, method, path, headers=None, body=b"", keep=False):
    """A bare HTTP/1.1 exchange; returns (status, headers, reader, writer, seconds to the status line)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    started = time.monotonic()
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    waited = time.monotonic() - started
    found = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        key, _, value = line.decode().partition(":")
        found[key.strip().lower()] = value.strip()
    status = int(status_line.split()[1]) if status_line else 0
    if keep:
        return status, found, reader, writer, waited
    payload = b""
    if "content-length" in found:
        payload = await reader.readexactly(int(found["content-length"]))
    writer.close()
    return status, found, payload, waited


async def shopper(side, product):
    body = json.dumps({"message_text": "storm", "client_message_id": os.urandom(8).hex()}).encode()
    status, headers, _, _ = await http(side.port, "POST", f"/api/products/{product}/messages",
                                       {"Content-Type": "application/json", "X-Chat-Session": ""}, body)
    return headers.get("x-chat-session")


async def storm(side, tokens, seconds):
    deadline = time.monotonic() + seconds

    async def one(token, product):
        while time.monotonic() < deadline:
            try:
                status, _, payload, _ = await asyncio.wait_for(http(
                    side.port, "POST", "/embed/demo/stream-ticket", {"X-Chat-Session": token}), 10)
                ticket = json.loads(payload)["ticket"]
                status, _, reader, writer, waited = await asyncio.wait_for(http(
                    side.port, "GET", f"/embed/demo/stream?product={product}&after=0&ticket={ticket}",
                    {"Accept": "text/event-stream"}, keep=True), 10)
                if status == 200:
                    side.waits.append(waited)
                else:
                    side.failures += 1
                await asyncio.sleep(random.uniform(0.1, 0.5))
                writer.close()
            except (OSError, asyncio.TimeoutError, ValueError, KeyError):
                side.failures += 1
                await asyncio.sleep(0.2)

    await asyncio.gather(*(one(token, product) for token, product in tokens))


def summary(side):
    waits = sorted(side.waits)
    if not waits:
        return f"{side.name}: no stream opened ({side.failures} failures)"
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))] * 1000  # noqa: E731
    slow = sum(1 for w in waits if w >= 0.3)
    return (f"| {side.name} | {len(waits)} | {statistics.median(waits) * 1000:.1f} | {pick(0.95):.1f} | "
            f"{pick(0.99):.1f} | {waits[-1] * 1000:.0f} | {slow} ({100 * slow / len(waits):.1f} %) | {side.failures} |")


async def main_async(args, sides):
    tokens = {}
    for side in sides:
        tokens[side.name] = [(await shopper(side, 1 + i % 6), 1 + i % 6) for i in range(args.streams)]
    for _ in range(args.rounds):
        for side in sides:
            await storm(side, tokens[side.name], args.seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git ref to compare with, side by side")
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    sides, worktree = [], None
    if args.baseline:
        worktree = tempfile.mkdtemp(prefix="storm-baseline-")
        subprocess.run(["git", "worktree", "add", "--detach", worktree, args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        sides.append(Side(f"baseline {args.baseline}", worktree, args.redis_url))
    sides.append(Side("this tree", ROOT, args.redis_url))
    try:
        for side in sides:
            side.start()
        asyncio.run(main_async(args, sides))
    finally:
        for side in sides:
            side.stop()
        if worktree:
            subprocess.run(["git", "worktree", "remove", "--force", worktree], cwd=ROOT, capture_output=True)
    print(f"{args.streams} streams, 2 gevent workers, SQLite + Redis, {args.rounds} rounds of {args.seconds:g} s each side")
    print("| side | stream opens | headers p50 ms | p95 ms | p99 ms | max ms | opens waiting >= 300 ms | failures |")
    print("|---|---|---|---|---|---|---|---|")
    for side in sides:
        print(summary(side))


if __name__ == "__main__":
    main()
