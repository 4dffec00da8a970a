"""Recovery under a herd: 2,000 open chats, our server stopped for a minute, then started.

    .venv/bin/python bench/herd.py                                # 2,000 widgets, 60 s down (~6 min)
    .venv/bin/python bench/herd.py --widgets 200 --outage 20      # a quick look

A benchmark, not a test: it prints figures and never passes or fails.

One gunicorn server with gevent workers (gunicorn.conf.py, as tests/live_server.py and
production start it) on a fresh MariaDB database and Redis, seeded with the demo shop.
Each simulated widget is a shopper with a conversation whose chat is open in a visible
tab: a stream (a ticket, then the SSE stream) and, whenever that stream breaks, the
requests exactly as static/js/backoff.js, conversation.js and embed.js schedule them
(mirrored in `Widget`, line for line):

- the stream's own retry (backoff.js `Retry`): full jitter, a wait anywhere under
  min(60 s, 1 s x 2^n) with n its failures in a row, reset by the stream's `ready`; it
  raises the tab's count to at least n + 1;
- a ticket request that gets no answer (refused, or a 5xx) takes the tab down
  (`link.lost`): then one try at a time after a wait under min(60 s, 1 s x 2^n), n the
  tab's count (at least the 5xx's Retry-After), until a request gets an answer below 500
  (`link.found`: the count starts again at 0);
- a stream that opens but sends no `ready` within 8 s makes the tab poll (every
  CHAT_POLL_SECONDS) until it does (conversation.js's watchdog);
- once its stream is back, the shopper sends a message: the first send after recovery,
  retried on a 5xx the way a queued send is.

Then SIGTERM (every stream ends cleanly, as in a deploy), --outage seconds with nothing
listening, and the same server started again. Printed: requests per widget per minute
while it was down, the time until every stream was back (from the restart), the answers
during recovery by status (every 503 must carry Retry-After), and the first send after
recovery. Loopback only; every wait is bounded; the server is stopped and its database
dropped at the end. Raises its own open-files soft limit (each widget holds a socket).
"""

import argparse
import asyncio
import collections
import json
import os
import random
import resource
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import ROOT, Side  # noqa: E402

BASE, CAP = 1.0, 60.0  # backoff.js: BASE, CAP (in seconds)
WATCHDOG, POLL = 8.0, 4.0  # conversation.js's "no ready" watchdog; CHAT_POLL_SECONDS


def delay(attempt):
    """backoff.js `delay`: full jitter under a ceiling that doubles from 1 s up to 60 s."""
    return random.random() * min(CAP, BASE * 2 ** min(attempt, 16))


class Log:
    """Every request a widget made: (monotonic time, kind, status; 0 = no answer, has Retry-After)."""

    def __init__(self):
        self.entries = []

    def add(self, kind, status, headers=None):
        self.entries.append((time.monotonic(), kind, status, "retry-after" in (headers or {})))


async def exchange(port, method, path, headers=None, body=b""):
    """One HTTP/1.1 request on its own connection: (status, headers, body); OSError when refused."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        status, found = await read_head(reader)
        payload = await reader.read()
        if found.get("transfer-encoding") == "chunked":
            payload = dechunk(payload)
        return status, found, payload
    finally:
        writer.close()


async def read_head(reader):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed before a status line")
    found = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        key, _, value = line.decode("latin-1").partition(":")
        found[key.strip().lower()] = value.strip()
    return int(status_line.split()[1]), found


def dechunk(data):
    out, rest = b"", data
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        length = int(size.split(b";")[0] or b"0", 16)
        if not length:
            break
        out, rest = out + rest[:length], rest[length + 2 :]
    return out


def retry_after(headers):
    try:
        return max(0.0, float(headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


class Widget:
    """One open chat, its requests scheduled as the page's JavaScript schedules them."""

    def __init__(self, bench, token, product, after):
        self.bench, self.token, self.product, self.after = bench, token, product, after
        self.tab = 0  # backoff.js `attempt`: the tab's tries without an answer
        self.own = 0  # the stream's own Retry `attempt`
        self.down = False  # backoff.js `link.down`
        self.ready_at = None  # when the stream last said "ready"
        self.sent = None  # (first attempt's seconds, its status, seconds until stored) after recovery

    async def request(self, kind, method, path, headers=None, body=b""):
        """conversation.js `request`: any answer below 500 is `link.found`."""
        headers = {"X-Chat-Session": self.token, **(headers or {})}
        try:
            status, found, payload = await asyncio.wait_for(exchange(self.bench.port, method, path, headers, body), 60)
        except (OSError, TimeoutError, ValueError, IndexError):
            self.bench.log.add(kind, 0)
            return 0, {}, b""
        self.bench.log.add(kind, status, found)
        if status < 500:
            self.found()
        return status, found, payload

    def found(self):
        self.tab, self.down = 0, False

    async def lost(self, at_least=0.0):
        """`link.lost`: the tab is down; the next try after the tab's schedule."""
        self.down = True
        wait = max(at_least, delay(self.tab))
        self.tab += 1
        await asyncio.sleep(wait)

    async def stream_failed(self):
        """conversation.js `Source` failed(true): the tab's probe if it is down, else the stream's own Retry."""
        if self.down:
            await self.lost()
            return
        self.tab = max(self.tab, self.own + 1)
        wait = delay(self.own)
        self.own += 1
        await asyncio.sleep(wait)  # then `link.when(connect)`: the tab is up and visible, so at once

    async def run(self):
        while not self.bench.finished:
            status, found, payload = await self.request("ticket", "POST", "/embed/demo/stream-ticket")
            if status == 0 or status >= 500:
                await self.lost(retry_after(found))  # no ticket for want of a server
                continue
            if status != 200:
                await self.stream_failed()
                continue
            ticket = json.loads(payload)["ticket"]
            await self.stream(ticket)
            if not self.bench.finished:
                await self.stream_failed()

    async def stream(self, ticket):
        path = f"/embed/demo/stream?product={self.product}&after={self.after}&ticket={ticket}"
        poller = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.bench.port), 60)
        except (OSError, TimeoutError):
            self.bench.log.add("stream", 0)
            return
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
            await writer.drain()
            status, found = await asyncio.wait_for(read_head(reader), 60)
            self.bench.log.add("stream", status, found)
            if status != 200:
                return
            opened, seen = time.monotonic(), b""
            while b"event:ready" not in seen:
                if poller is None and time.monotonic() - opened > WATCHDOG:
                    poller = asyncio.ensure_future(self.poll())  # a buffering proxy, for all the page knows
                if time.monotonic() - opened > 60:
                    return
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), 1)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                seen = seen[-64:] + chunk
            self.ready_at = time.monotonic()
            self.own = 0  # Retry.ok
            self.found()
            if poller:
                poller.cancel()
                poller = None
            if self.bench.recovering and self.sent is None:
                asyncio.ensure_future(self.send())
            while await asyncio.wait_for(reader.read(65536), 45):  # heartbeats every 15 s
                pass
        except (OSError, TimeoutError, ValueError, IndexError):
            pass
        finally:
            if poller:
                poller.cancel()
            writer.close()

    async def poll(self):
        while True:
            await asyncio.sleep(POLL)
            path = f"/embed/demo/products/{self.product}/messages?after={self.after}"
            status, found, _ = await self.request("poll", "GET", path, {"HX-Request": "true"})
            if status == 0 or status >= 500:
                await self.lost(retry_after(found))

    async def send(self):
        """The first message after recovery; a 5xx is tried again as a queued send is (`later`)."""
        self.sent = ()
        started, first = time.monotonic(), None
        body = f"message_text=back+again&client_message_id={uuid.uuid4()}".encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "HX-Request": "true"}
        while not self.bench.finished:
            began = time.monotonic()
            status, found, _ = await self.request(
                "send", "POST", f"/embed/demo/products/{self.product}/messages", headers, body
            )
            if first is None:
                first = (time.monotonic() - began, status)
            if 0 < status < 500 and status != 408:
                self.sent = (first[0], first[1], time.monotonic() - started)
                return
            await self.lost(retry_after(found))


class Bench:
    def __init__(self, port):
        self.port = port
        self.log = Log()
        self.finished = False
        self.recovering = False


async def make_shoppers(bench, count):
    """Shoppers with a conversation each (the seed's JSON API), 20 at a time."""
    shoppers, gate = [], asyncio.Semaphore(20)

    async def one(i):
        product = 1 + i % 12
        async with gate:
            body = json.dumps({"message_text": f"herd {i}", "client_message_id": str(uuid.uuid4())}).encode()
            status, found, payload = await exchange(
                bench.port,
                "POST",
                f"/api/products/{product}/messages",
                {"Content-Type": "application/json", "X-Chat-Session": ""},
                body,
            )
        assert status == 201, (status, payload[:200])
        shoppers.append((found["x-chat-session"], str(product), json.loads(payload)["id"]))

    await asyncio.gather(*(one(i) for i in range(count)))
    return shoppers


async def listening(port, deadline):
    """When the server accepts connections again (its pages may still be slow under the herd)."""
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return time.monotonic()
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("the server did not start again within a minute")


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def herd(args, side):
    bench = Bench(side.port)
    loop_started = time.monotonic()
    shoppers = await make_shoppers(bench, args.widgets)
    widgets = [Widget(bench, *shopper) for shopper in shoppers]
    tasks = []
    for widget in widgets:  # pages open over --ramp seconds
        tasks.append(asyncio.ensure_future(widget.run()))
        await asyncio.sleep(args.ramp / len(widgets))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(w.ready_at is None for w in widgets):
        await asyncio.sleep(0.5)
    connected = sum(w.ready_at is not None for w in widgets)
    print(f"{connected} of {len(widgets)} streams open after {time.monotonic() - loop_started:.0f} s of setup")
    await asyncio.sleep(5)

    stopped = time.monotonic()
    await asyncio.to_thread(side.halt)
    await asyncio.sleep(max(0.0, stopped + args.outage - time.monotonic()))
    side.launch()
    restarted = time.monotonic()
    bench.recovering = True
    for widget in widgets:
        widget.ready_at = None
    up = await listening(side.port, restarted + 60)
    deadline = restarted + args.recovery
    while time.monotonic() < deadline and any(w.ready_at is None or not w.sent for w in widgets):
        await asyncio.sleep(0.5)
    bench.finished = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return report(args, widgets, bench.log, stopped, restarted, up, connected)


def report(args, widgets, log, stopped, restarted, up, connected):
    n = len(widgets)
    opening = collections.Counter(status for at, _, status, _ in log.entries if at < stopped)
    during = [e for e in log.entries if stopped <= e[0] < restarted]
    after = [e for e in log.entries if e[0] >= restarted]
    per_minute = len(during) / n / (args.outage / 60)
    middle = stopped + args.outage / 2
    later_half = sum(1 for e in during if e[0] >= middle) / n / (args.outage / 120)
    kinds = collections.Counter(kind for _, kind, _, _ in during)
    back = [w.ready_at - restarted for w in widgets if w.ready_at is not None]
    statuses = collections.Counter(status for _, _, status, _ in after)
    by_kind = collections.Counter(f"{kind} {status}" for _, kind, status, _ in after if status >= 500)
    bare_503 = sum(1 for _, _, status, has in after if status == 503 and not has)
    other_5xx = sum(n for status, n in statuses.items() if status >= 500 and status != 503)
    sends = [w.sent for w in widgets if w.sent]
    first = [s[0] * 1000 for s in sends]
    stored = [s[2] * 1000 for s in sends]
    busiest = collections.Counter(int(e[0] - restarted) for e in after).most_common(1)
    first_answer = min((e[0] for e in after if e[2] > 0), default=float("nan")) - restarted
    lines = [
        f"{n} widgets (visible tabs, chat open), {args.workers} gevent worker(s), MariaDB + Redis, "
        f"server stopped {args.outage:g} s, then started: listening after {up - restarted:.1f} s, "
        f"first answer after {first_answer:.1f} s",
        "",
        "| figure | value |",
        "|---|---|",
        f"| streams open before the outage | {connected} of {n} (answers while the pages opened: {dict(sorted(opening.items()))}) |",
        f"| requests while down | {len(during)} ({dict(kinds)}) |",
        f"| requests per widget per minute while down | {per_minute:.2f} (in its second half: {later_half:.2f}) |",
        f"| streams back | {len(back)} of {n} |",
        f"| time until every stream was back, from the restart | "
        f"{max(back) if len(back) == n else float('nan'):.1f} s (p50 {quantile(back, 0.5):.1f} s, p99 {quantile(back, 0.99):.1f} s) |",
        f"| busiest second of recovery | {busiest[0][1] if busiest else 0} requests |",
        f"| answers during recovery | {dict(sorted(statuses.items()))} (0: no answer, the server still starting) |",
        f"| 5xx by request | {dict(sorted(by_kind.items()))} |",
        f"| 503 without Retry-After | {bare_503} |",
        f"| other 5xx | {other_5xx} |",
        f"| first send after recovery: first try p50 / p99 | {quantile(first, 0.5):.0f} ms / {quantile(first, 0.99):.0f} ms "
        f"({collections.Counter(s[1] for s in sends)}) |",
        f"| first send after recovery: until stored p50 / p99 | {quantile(stored, 0.5):.0f} ms / {quantile(stored, 0.99):.0f} ms "
        f"({len(sends)} of {n} stored) |",
    ]
    return "\n".join(lines)


def raise_open_files_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widgets", type=int, default=2000)
    parser.add_argument("--outage", type=float, default=60, help="seconds the server is down")
    parser.add_argument("--recovery", type=float, default=180, help="most seconds to wait for every stream")
    parser.add_argument("--ramp", type=float, default=20, help="seconds over which the pages open")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    limit = raise_open_files_limit()
    if limit < args.widgets * 2 + 100:
        sys.exit(f"open-files hard limit {limit} is too low for {args.widgets} widgets")
    side = Side("herd", ROOT, args.redis_url, workers=args.workers, mariadb=True)
    try:
        side.start()
        print(asyncio.run(herd(args, side)))
    finally:
        side.stop()


if __name__ == "__main__":
    main()
