"""Reconnect storm: how long a stream open waits for its response headers.

    .venv/bin/python bench/reconnect_storm.py                       # this tree only
    .venv/bin/python bench/reconnect_storm.py --baseline HEAD~1     # and an older commit, side by side
    .venv/bin/python bench/reconnect_storm.py --streams 50 --seconds 8 --rounds 3

A benchmark, not a test: it prints figures and never passes or fails.

Each side is a gunicorn server with 2 gevent workers on its own fresh MariaDB
database (several workers on SQLite are refused at start) and Redis on
--redis-url, as in production, seeded with the demo shop. Every
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
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import Side, tree_at  # noqa: E402


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
    status, headers, _, _ = await http(
        side.port,
        "POST",
        f"/api/products/{product}/messages",
        {"Content-Type": "application/json", "X-Chat-Session": ""},
        body,
    )
    return headers.get("x-chat-session")


async def storm(side, tokens, seconds):
    deadline = time.monotonic() + seconds

    async def one(token, product):
        while time.monotonic() < deadline:
            try:
                status, _, payload, _ = await asyncio.wait_for(
                    http(side.port, "POST", "/embed/demo/stream-ticket", {"X-Chat-Session": token}), 10
                )
                ticket = json.loads(payload)["ticket"]
                status, _, reader, writer, waited = await asyncio.wait_for(
                    http(
                        side.port,
                        "GET",
                        f"/embed/demo/stream?product={product}&after=0&ticket={ticket}",
                        {"Accept": "text/event-stream"},
                        keep=True,
                    ),
                    10,
                )
                if status == 200:
                    side.waits.append(waited)
                else:
                    side.failures += 1
                await asyncio.sleep(random.uniform(0.1, 0.5))
                writer.close()
            except (TimeoutError, OSError, ValueError, KeyError):
                side.failures += 1
                await asyncio.sleep(0.2)

    await asyncio.gather(*(one(token, product) for token, product in tokens))


def summary(side):
    waits = sorted(side.waits)
    if not waits:
        return f"{side.name}: no stream opened ({side.failures} failures)"
    pick = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))] * 1000  # noqa: E731
    slow = sum(1 for w in waits if w >= 0.3)
    return (
        f"| {side.name} | {len(waits)} | {statistics.median(waits) * 1000:.1f} | {pick(0.95):.1f} | "
        f"{pick(0.99):.1f} | {waits[-1] * 1000:.0f} | {slow} ({100 * slow / len(waits):.1f} %) | {side.failures} |"
    )


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
    with tree_at(args.baseline) as baseline:
        sides = (
            [Side(f"baseline {args.baseline}", baseline, args.redis_url, workers=2, mariadb=True)]
            if args.baseline
            else []
        )
        sides.append(
            Side(
                "this tree",
                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                args.redis_url,
                workers=2,
                mariadb=True,
            )
        )
        for side in sides:
            side.waits, side.failures = [], 0
        try:
            for side in sides:
                side.start()
            asyncio.run(main_async(args, sides))
        finally:
            for side in sides:
                side.stop()
    print(
        f"{args.streams} streams, 2 gevent workers, MariaDB + Redis, {args.rounds} rounds of {args.seconds:g} s each side"
    )
    print("| side | stream opens | headers p50 ms | p95 ms | p99 ms | max ms | opens waiting >= 300 ms | failures |")
    print("|---|---|---|---|---|---|---|---|")
    for side in sides:
        print(summary(side))


if __name__ == "__main__":
    main()
