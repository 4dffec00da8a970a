"""Our SSE stream vs stock flask-sse's stream, side by side, under one gunicorn gevent worker.

    .venv/bin/python bench/sse_streams.py                      # levels 1000,5000,10000
    .venv/bin/python bench/sse_streams.py --quick              # levels 200,1000
    .venv/bin/python bench/sse_streams.py --levels 2000 --impl ours,stock

A benchmark, not a test: it prints figures and never passes or fails.

Implementations (--impl, default all three):

  ours       GET /embed/demo/stream?product=1&after=<id>&ticket=<t> of the app,
             the ticket from POST /embed/demo/stream-ticket with the session's
             X-Chat-Session header (the embed widget's protocol). One Redis pub/sub connection per worker feeds every
             stream. Every stream has its own chat session (made once, up front,
             by POST /api/products/1/messages).
  pushpin    the same stream through Debian's pushpin in front (LIVE_PROXY=pushpin,
             deploy/pushpin/pushpin.conf on spare ports, tests/pushpin_server.py):
             the app answers each stream with its replay and GRIP hold
             instructions and publishes after commit; Pushpin holds the
             connections. RSS is the app worker's plus every pushpin process's
             (runner, condure, proxy, handler, zurl). Tickets and sends go to the
             app directly, streams through Pushpin.
  stock      flask-sse 1.0.0 exactly as shipped: its own blueprint and stream()
             view (bench/stock_app.py), GET /live/stock?channel=<name>. One
             Redis pub/sub connection (and client and pool) per stream.

For every level and implementation a FRESH server is started the way the live
tests start one (tests/live_server.py: ``gunicorn -c gunicorn.conf.py --workers 1``,
gevent worker; the app on one SQLite file shared by all runs), that many
concurrent streams are opened from this one asyncio process, and we measure:

* Redis connections: ``INFO clients`` connected_clients minus the baseline taken
  before the server started, cross-checked against the worker's own TCP sockets
  to the Redis port (from /proc), which are what the table shows: exact even
  when something else uses the same Redis meanwhile. Split into pub/sub and other
  connections (CLIENT LIST) when there are few.
* the worker's RSS: VmRSS in /proc/<pid>/status, pid from GET /live/stats.
* delivery latency while messages flow: ``--sends`` messages spread over
  ``--duration`` seconds, round-robin over ``--probes`` probe streams (each its
  own session or channel, opened first, counted in the level), from "send" to
  the event's arrival on the probe's stream:
    ours   send = POST /api/products/1/messages with a unique client_message_id
           (so the POST itself, DB insert + commit, is in the figure); received
           = the ``event: message`` whose HTML has data-client-id="<that id>".
           The notes add the Redis-to-client part alone: from the moment the
           bench's own subscriber sees the event go through Redis.
    stock  send = PUBLISH of flask-sse's wire format straight to Redis (so it
           compares with ours' Redis-to-client part).
  Stock flask-sse writes nothing, not even the response headers, before a
  stream's first event, so a stock stream counts as open once a "hello" event
  published to its channel arrives with HTTP 200.

A level of N streams is N connections in total (N - probes idle + the probes),
opened ``--batch`` at a time. Ours' first stream is opened alone: the worker
starts its Redis listener on its first stream, and a burst of first streams can
start several listeners (a race in RedisBroker._ensure_listener). That burst,
as after a restart when every open page reconnects at once, is measured apart:
``--cold-trials`` fresh workers each hit by ``--batch`` first streams at once,
reporting the worker's Redis connections after each.

Failures (Redis maxclients, open-file limits, the pool cap, timeouts) are
counted and shown in the table instead of stopping the run; every loop is
bounded in count and time and the whole run has an overall timeout.

All traffic goes to 127.0.0.1. Every channel used carries a random prefix, and
the server is stopped after each run, which closes every connection its worker
held in Redis. The bench's own Redis connections (one for commands, one
subscriber watching ours' events) are opened before anything else, so INFO can
still be read when stock flask-sse has used up Redis's maxclients.
"""

import argparse
import asyncio
import atexit
import json
import math
import os
import pathlib
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the repository root: tests.live_server, bench.stock_app

import redis.asyncio as aioredis  # the app's own dependency

from tests.live_server import LiveServer, prepared_env
from tests.pushpin_server import Pushpin

HOST = "127.0.0.1"
PRODUCT_ID = 1
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MESSAGE_ID_RE = re.compile(r'data-id="(\d+)"')
IMPLEMENTATIONS = {
    # name: (gunicorn app, label in the table)
    "ours": ("wsgi:app", "ours (1 pub/sub per worker)"),
    "stock": ("bench.stock_app:app", "stock flask-sse 1.0.0"),
    "pushpin": ("wsgi:app", "pushpin holds them (app: 1 worker)"),
}
GC_TRIPLE = re.compile(r"\d+:\d+:\d+")
SESSION_IMPLS = {"ours", "pushpin"}  # streams of chat sessions, opened with tickets
PUSHPIN_KEY = "bench-pushpin-key"


# --------------------------------------------------------------------------- #
# Process facts from /proc, percentiles
# --------------------------------------------------------------------------- #
def raise_nofile_limit():
    """This process holds every client socket: lift the soft open-files limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid):
    """User + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuWindow:
    """Worker CPU % (of one core) and host CPU busy % between start and stop."""

    def __init__(self, pid):
        self.pid = pid
        self.t0, self.cpu0, self.host0 = time.monotonic(), cpu_seconds(pid), host_busy()

    def stop(self):
        wall = time.monotonic() - self.t0
        busy1, total1 = host_busy()
        host = 100 * (busy1 - self.host0[0]) / max(1, total1 - self.host0[1])
        return 100 * (cpu_seconds(self.pid) - self.cpu0) / max(wall, 1e-6), host


def worker_redis_ports(pid, redis_port):
    """Local ports of the established TCP connections from process ``pid`` to ``redis_port``."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as fh:
                next(fh)
                for line in fh:
                    # sl local_address rem_address st ... inode (10th field)
                    parts = line.split()
                    if parts[3] == "01" and int(parts[2].rsplit(":", 1)[1], 16) == redis_port and parts[9] in inodes:
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


def percentile(values, pct):
    """Nearest-rank percentile (no interpolation: of 200 samples, p99 is the 2nd worst)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# --------------------------------------------------------------------------- #
# A minimal HTTP/1.1 client on asyncio streams
# --------------------------------------------------------------------------- #
def dechunk(payload):
    out, pos = bytearray(), 0
    while True:
        end = payload.index(b"\r\n", pos)
        size = int(payload[pos:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += payload[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


async def http_request(port, method, path, headers=None, body=None, timeout=10.0):
    """One request on a fresh connection (Connection: close) -> (status, headers, body)."""

    async def exchange():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
            if body is not None:
                lines.append(f"Content-Length: {len(body)}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
            return await reader.read()  # until the server closes
        finally:
            writer.close()

    raw = await asyncio.wait_for(exchange(), timeout)
    head, _, payload = raw.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split()[1])
    hdrs = {}
    for line in head_lines[1:]:
        key, _, value = line.partition(":")
        hdrs[key.strip().lower()] = value.strip()
    if hdrs.get("transfer-encoding") == "chunked":
        payload = dechunk(payload)
    return status, hdrs, payload


class Probes:
    """Sends in flight (marker -> send time) and the measured latencies.

    For ours it also notes when each message event went through Redis
    (``published``, seen by the bench's own subscriber) and when each message
    reached a stream (``arrived``), to give the Redis-to-client part alone."""

    def __init__(self):
        self.pending = {}
        self.latencies = []  # ms, send -> receipt
        self.published = {}  # message id -> time seen on Redis
        self.arrived = {}  # message id -> time received on a stream

    def received(self, data, now, ours):
        if not self.pending:
            return
        for marker in UUID_RE.findall(data):
            t0 = self.pending.pop(marker, None)
            if t0 is not None:
                self.latencies.append((now - t0) * 1000)
                if ours:
                    for message_id in MESSAGE_ID_RE.findall(data):
                        self.arrived.setdefault(int(message_id), now)

    def from_redis(self):
        """ms from the message event passing through Redis to its arrival on the stream."""
        return [(t - self.published[m]) * 1000 for m, t in self.arrived.items() if m in self.published]


class Stream:
    """One SSE connection: a reader task that parses the chunked body into events.

    ``opened`` resolves True once the stream is known to flow (ours: its
    ``ready`` event; stock: its first ``message`` event) or False when it fails.
    """

    __slots__ = ("error", "opened", "probes", "status", "stock", "task", "writer")

    def __init__(self, stock, probes):
        self.stock = stock
        self.probes = probes
        self.writer = None
        self.task = None
        self.opened = asyncio.get_running_loop().create_future()
        self.status = None
        self.error = None

    async def start(self, port, path, headers, timeout=10.0):
        """Connect and send the GET; reading goes on in a background task."""
        try:
            reader, self.writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
            lines = [
                f"GET {path} HTTP/1.1",
                f"Host: {HOST}:{port}",
                "Accept: text/event-stream",
                "Cache-Control: no-cache",
            ] + [f"{k}: {v}" for k, v in headers.items()]
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        except (TimeoutError, OSError) as exc:
            self._fail(f"connect {exc.__class__.__name__}")
            return self
        self.task = asyncio.create_task(self._read(reader))
        return self

    def _fail(self, why):
        if self.error is None:
            self.error = why
        if not self.opened.done():
            self.opened.set_result(False)

    async def _read(self, reader):
        try:
            status_line = await reader.readline()
            if not status_line:
                return self._fail("closed before any answer")
            self.status = int(status_line.split()[1])
            chunked = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                    chunked = True
            if self.status != 200:
                return self._fail(f"HTTP {self.status}")
            buf = ""
            while True:
                if chunked:
                    size_line = await reader.readline()
                    if not size_line:
                        break
                    size = int(size_line.split(b";")[0], 16)
                    if size == 0:
                        break
                    text = (await reader.readexactly(size + 2))[:-2].decode()
                else:
                    data = await reader.read(65536)
                    if not data:
                        break
                    text = data.decode()
                now = time.perf_counter()
                buf += text
                while "\n\n" in buf:
                    block, buf = buf.split("\n\n", 1)
                    self._on_event(block, now)
            self._fail("stream ended")
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            self._fail(f"read {exc.__class__.__name__}")

    def _on_event(self, block, now):
        event_type, data = "message", []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue  # a comment: our heartbeat
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event_type = value
            elif field == "data":
                data.append(value)
        if not data:
            return  # e.g. "retry: 2000" alone
        flowing = event_type == "ready" or (self.stock and event_type == "message")
        if flowing and not self.opened.done():
            self.opened.set_result(True)
        if event_type == "message":
            self.probes.received("\n".join(data), now, not self.stock)

    @property
    def ok(self):
        return self.opened.done() and self.opened.result() and self.error is None

    def close(self):
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()


# --------------------------------------------------------------------------- #
# The bench
# --------------------------------------------------------------------------- #
class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="sse-bench-"))
        self.prefix = f"bench-{uuid.uuid4().hex[:10]}:"
        self.redis_port = urllib.parse.urlsplit(args.redis_url).port or 6379
        self.env = None
        self.redis = None
        self.watcher = None  # (client, pubsub, task): ours' message events passing through Redis
        self.probes = None
        self.baseline = 0
        self.cold = None  # (streams per burst, [(streams open, worker's Redis connections)])
        self.sessions = []  # [token, last message id] per chat session

    # -- the bench's own Redis connections, open for the whole run ----------- #
    async def connected_clients(self):
        return int((await self.redis.info("clients"))["connected_clients"])

    async def publish(self, channel, data):
        # flask-sse's wire format: json.dumps(Message(data, type="message").to_dict())
        return await self.redis.publish(channel, json.dumps({"data": data, "type": "message"}))

    async def watch(self, pubsub):
        """Note when each of our "message" events passes through Redis."""
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is None or self.probes is None:
                continue
            now = time.perf_counter()
            try:
                event = json.loads(message["data"])
            except ValueError:
                continue
            if event.get("type") == "message" and event.get("id") is not None:
                self.probes.published.setdefault(int(event["id"]), now)

    async def redis_split(self, pid):
        """The worker's Redis connections by kind, e.g. "1 pub/sub + 2 other (last command publish)"."""
        ports = worker_redis_ports(pid, self.redis_port)
        pubsub, other = 0, {}
        for client in await self.redis.client_list():
            if int(client["addr"].rsplit(":", 1)[1]) in ports:
                if int(client.get("sub", 0)) or int(client.get("psub", 0)):
                    pubsub += 1
                else:
                    other[client.get("cmd", "?")] = other.get(client.get("cmd", "?"), 0) + 1
        text = f"{pubsub:,} pub/sub"
        if other:
            text += (
                f" + {sum(other.values()):,} other (last command: "
                + ", ".join(f"{cmd} x{n:,}" for cmd, n in sorted(other.items(), key=lambda kv: -kv[1]))
                + ")"
            )
        return text

    # -- setup -------------------------------------------------------------- #
    async def setup(self):
        self.redis = aioredis.Redis.from_url(self.args.redis_url, single_connection_client=True, socket_timeout=10)
        await self.redis.ping()
        if SESSION_IMPLS & set(self.args.impl):
            client = aioredis.Redis.from_url(self.args.redis_url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await pubsub.psubscribe(self.prefix + "customer:*")
            self.watcher = (client, pubsub, asyncio.create_task(self.watch(pubsub)))
        print(f"# scratch dir {self.tmp}, channel prefix {self.prefix!r}", flush=True)
        database_url = f"sqlite:///{self.tmp}/bench.sqlite"
        if self.args.db == "mariadb":
            # A fresh database on the tests' MariaDB (TEST_MYSQL_URL), dropped at exit.
            from tests import backends

            name, database_url = backends.create_mysql_database()
            atexit.register(backends.drop_mysql_database, name)
        self.env = prepared_env(
            self.tmp,
            database_url,
            redis_url=self.args.redis_url,
            LIVE_STATS_ENABLED="true",
            LIVE_CHANNEL_PREFIX=self.prefix,
            SSE_HEARTBEAT_SECONDS=str(self.args.heartbeat),
            LOG_LEVEL="warning",
        )
        if SESSION_IMPLS & set(self.args.impl):
            await self.create_sessions(min(max(self.args.levels), self.args.sessions or max(self.args.levels)))

    async def create_sessions(self, count):
        """One chat session per stream of the largest level: POST a first message for each."""
        started = time.monotonic()
        server = LiveServer(self.env, app_spec="wsgi:app").start()
        try:
            todo = iter(range(count))
            results = [None] * count
            errors = []

            async def worker():
                for i in todo:  # shared iterator: each index is taken once
                    if errors:
                        return
                    body = json.dumps({"message_text": f"bench session {i}"}).encode()
                    try:
                        status, hdrs, payload = await http_request(
                            server.port,
                            "POST",
                            f"/api/products/{PRODUCT_ID}/messages",
                            {"Content-Type": "application/json"},
                            body,
                        )
                    except (TimeoutError, OSError) as exc:
                        errors.append(repr(exc))
                        return
                    if status != 201:
                        errors.append(f"HTTP {status}: {payload[:200]!r}")
                        return
                    results[i] = [hdrs["x-chat-session"], json.loads(payload)["id"]]

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(16))), timeout=self.args.session_timeout)
            if errors:
                raise RuntimeError(f"creating sessions failed: {errors[0]}")
        finally:
            server.stop()
        self.sessions = results
        took = time.monotonic() - started
        print(f"# created {count} chat sessions in {took:.0f} s ({count / took:.0f}/s)", flush=True)

    # -- opening streams ---------------------------------------------------- #
    def targets(self, impl, n_probe, n_idle):
        """(path, headers, send target) per stream, probes first.

        ours: stream i uses chat session i (send target: the session's index);
        stock: stream i listens on its own channel (send target: the channel)."""
        out = []
        for i in range(n_probe + n_idle):
            if impl in SESSION_IMPLS:
                # With --sessions, idle streams share the sessions round-robin (probes keep their own).
                token, last_id = self.sessions[i % len(self.sessions)]
                # The embed ticket protocol: {ticket} is filled in just before opening
                # (a ticket opens one stream within a minute).
                out.append(
                    (
                        f"/embed/demo/stream?product={PRODUCT_ID}&after={last_id}&ticket={{ticket}}",
                        {"X-Chat-Session": token},
                        i,
                    )
                )
            else:
                kind = "probe" if i < n_probe else "idle"
                channel = f"{self.prefix}{impl}:{kind}:{i}"
                out.append((f"/live/stock?channel={urllib.parse.quote(channel)}", {}, channel))
        return out

    async def ticket(self, port, headers):
        """POST /embed/demo/stream-ticket with the session header: the stream's single-use ticket."""
        status, _, payload = await http_request(port, "POST", "/embed/demo/stream-ticket", headers)
        if status != 200:
            return "refused"  # the stream then fails with 403 and is counted as failed
        return urllib.parse.quote(json.loads(payload)["ticket"])

    async def open_streams(
        self, impl, port, targets, probes, deadline, notes, warm=True, ticket_port=None, after_first=None
    ):
        """Open the streams in batches, so the listen backlog never overflows.

        With ``warm``, ours' first stream is opened alone: the worker starts its
        Redis listener on its first stream, and a burst of first streams can
        start several (see cold_start_check). ``after_first(streams)`` is called
        once the first full batch is open."""
        stock = impl == "stock"
        batches = [targets[:1], targets[1:]] if warm and not stock else [targets]
        batches = [batch[i : i + self.args.batch] for batch in batches for i in range(0, len(batch), self.args.batch)]
        streams = []
        for batch in batches:
            if time.monotonic() > deadline:
                notes.append(f"opening stopped at {len(streams)}: time limit")
                break
            if not stock:
                batch = [
                    (path.format(ticket=await self.ticket(ticket_port or port, headers)), headers, target)
                    for path, headers, target in batch
                ]
            group = await asyncio.gather(
                *(Stream(stock, probes).start(port, path, headers) for path, headers, _ in batch)
            )
            streams += group
            if not stock:
                # Ours answers at once: retry, (replay), then "ready".
                await asyncio.wait([s.opened for s in group], timeout=self.args.batch_timeout)
                failed = sum(1 for s in group if not s.ok)
            else:
                # Stock answers nothing yet: pace on the worker's Redis connections.
                failed = await self.wait_stock_connected(streams, group)
            if failed == len(group):
                notes.append(f"opening stopped at {len(streams)}: a whole batch failed")
                break
            if after_first is not None and len(batch) == self.args.batch:
                after_first(streams)
                after_first = None
        return streams

    async def wait_stock_connected(self, streams, group, stall=3.0):
        """Until each stream not failed yet shows as a Redis client, or no progress for ``stall`` s."""
        last, last_change = None, time.monotonic()
        while time.monotonic() - last_change < stall:
            now_clients = await self.connected_clients()
            if now_clients >= self.baseline + sum(1 for s in streams if s.error is None):
                break
            if now_clients != last:
                last, last_change = now_clients, time.monotonic()
            await asyncio.sleep(0.05)
        return sum(1 for s in group if s.error is not None)

    async def say_hello(self, streams, channels, timeout):
        """Stock streams stay silent until their first event: publish one per channel,
        again for streams still waiting (a SUBSCRIBE may land after the connection shows)."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            waiting = [(s, c) for s, c in zip(streams, channels) if s.error is None and not s.opened.done()]
            if not waiting:
                break
            for _, channel in waiting:
                await self.publish(channel, "hello")
            await asyncio.wait([s.opened for s, _ in waiting], timeout=max(0.1, min(2.0, give_up - time.monotonic())))

    async def cold_start_check(self):
        """Ours on a fresh worker, its first ``--batch`` streams arriving at once (as after
        a restart, when every page reconnects): how many Redis pub/sub connections result?"""
        results = []
        n = min(self.args.batch, len(self.sessions))
        for _ in range(self.args.cold_trials):
            probes = Probes()
            server = LiveServer(self.env, app_spec=IMPLEMENTATIONS["ours"][0]).start()
            streams = []
            try:
                pid = json.loads((await http_request(server.port, "GET", "/live/stats"))[2])["pid"]
                streams = await self.open_streams(
                    "ours", server.port, self.targets("ours", 0, n), probes, time.monotonic() + 60, [], warm=False
                )
                await asyncio.sleep(1)
                results.append((sum(1 for s in streams if s.ok), len(worker_redis_ports(pid, self.redis_port))))
            finally:
                for s in streams:
                    s.close()
                server.stop()
        return n, results

    # -- latency -------------------------------------------------------------- #
    async def latency_phase(self, impl, port, probe_streams, probe_targets, probes):
        """``sends`` messages over ``duration`` s, round-robin over the open probe streams."""
        sends, interval = self.args.sends, self.args.duration / self.args.sends
        live = [t for s, t in zip(probe_streams, probe_targets) if s.ok]
        if not live:
            return [], ["no probe stream open: no latency"]
        post_ms, failures = [], []

        async def send_ours(index, marker):
            token = self.sessions[index][0]
            body = json.dumps({"message_text": f"probe {marker}", "client_message_id": marker}).encode()
            t0 = time.perf_counter()
            probes.pending[marker] = t0
            try:
                status, _, payload = await http_request(
                    port,
                    "POST",
                    f"/api/products/{PRODUCT_ID}/messages",
                    {"Content-Type": "application/json", "X-Chat-Session": token},
                    body,
                )
            except (TimeoutError, OSError) as exc:
                failures.append(f"POST {exc.__class__.__name__}")
                return
            post_ms.append((time.perf_counter() - t0) * 1000)
            if status != 201:
                failures.append(f"POST HTTP {status}")
                return
            # Later levels open this session's stream with after=<its last message>.
            session = self.sessions[index]
            session[1] = max(session[1], json.loads(payload)["id"])

        tasks = []
        start = time.perf_counter()
        for n in range(sends):
            await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
            target = live[n % len(live)]
            marker = str(uuid.uuid4())
            if impl in SESSION_IMPLS:
                tasks.append(asyncio.create_task(send_ours(target, marker)))
            else:
                probes.pending[marker] = time.perf_counter()
                await self.publish(target, marker)
        if tasks:
            await asyncio.wait(tasks, timeout=15)
        give_up = time.monotonic() + 5  # let the last events arrive
        while probes.pending and time.monotonic() < give_up:
            await asyncio.sleep(0.05)
        notes = []
        if probes.pending:
            notes.append(f"{len(probes.pending)} of {sends} sends never arrived")
        if failures:
            notes.append(f"{len(failures)} sends failed ({failures[0]})")
        return post_ms, notes

    # -- one implementation at one level ------------------------------------ #
    async def run_one(self, impl, level, gc_mode="tuned"):
        args = self.args
        notes = []
        probes = self.probes = Probes()
        n_probe = min(args.probes, level)
        targets = self.targets(impl, n_probe, level - n_probe)
        row = empty_row(impl, level, gc_mode=gc_mode)
        streams = []
        self.baseline = await self.connected_clients()
        # GC_TUNING (gunicorn.conf.py): "off" is Python's defaults, as before the fix.
        # 10000:20:10 runs GC_TUNING with those thresholds.
        env = dict(self.env, GC_TUNING={"tuned": "on", "default": "off"}.get(gc_mode, gc_mode.replace(":", ",")))
        server = LiveServer(env, app_spec=IMPLEMENTATIONS[impl][0])
        proxy = None
        if impl == "pushpin":
            settings = dict(item.split("=", 1) for item in args.pushpin_set)
            proxy = Pushpin(server.port, PUSHPIN_KEY, settings=settings)
            server.env = dict(
                env, LIVE_PROXY="pushpin", PUSHPIN_SIG_KEY=PUSHPIN_KEY, PUSHPIN_PUBLISH_URL=proxy.publish_url
            )
            proxy.start()
        server.start()
        stream_port = int(proxy.url.rsplit(":", 1)[1]) if proxy else server.port

        def rss_all():
            """The worker's RSS, and (pushpin) its processes' together."""
            extra = sum(rss_mb(p) for p in proxy.pids()) if proxy else 0.0
            return rss_mb(pid) + extra, extra

        log_text = ""
        try:
            _, _, body = await http_request(server.port, "GET", "/live/stats")
            pid = json.loads(body)["pid"]
            served = time.time()  # start-up's own collections (GC_TUNING's included) are not counted
            rss_start, pushpin_start = rss_all()

            # 1. open the streams: probes first, so latency is measured whatever fails later
            t_open = time.monotonic()
            deadline = t_open + args.open_timeout + level * 0.02
            # The worker's RSS once the first batch is open: the growth past it is what each
            # further stream costs, without the start-up's one-off costs (templates, pools).
            warm = []
            streams = await self.open_streams(
                impl,
                stream_port,
                targets,
                probes,
                deadline,
                notes,
                ticket_port=server.port,
                after_first=lambda opened: warm.append((sum(1 for s in opened if s.ok), rss_all()[0])),
            )
            if impl == "stock":
                await self.say_hello(streams, [t for _, _, t in targets], args.batch_timeout)
            open_took = time.monotonic() - t_open
            if proxy:
                # Pushpin 1.36 asks every new stream's next link a second after its hold (once per
                # new channel): wait until those catch-ups are done (bounded), and count them.
                quiet_since, seen, give_up = time.monotonic(), -1, time.monotonic() + args.level_timeout / 2
                while time.monotonic() - quiet_since < 3 and time.monotonic() < give_up:
                    count = proxy.next_link_requests()
                    if count != seen:
                        seen, quiet_since = count, time.monotonic()
                    await asyncio.sleep(0.5)
                notes.append(
                    f"Pushpin asked {seen:,} next links after the holds "
                    f"(done {time.monotonic() - t_open - open_took:.0f} s after the last open)"
                )
            idle_cpu = CpuWindow(pid)
            await asyncio.sleep(args.settle)
            idle_worker, _ = idle_cpu.stop()
            redis_idle = await self.connected_clients() - self.baseline
            stats = json.loads((await http_request(server.port, "GET", "/live/stats?objects=1"))[2])

            # 2. latency while messages flow
            gc_before, sending_from = stats.get("gc"), time.time()
            links_before = proxy.next_link_requests() if proxy else 0
            busy_cpu = CpuWindow(pid)
            post_ms, more = await self.latency_phase(
                impl, server.port, streams[:n_probe], [t for _, _, t in targets[:n_probe]], probes
            )
            notes += more
            if proxy:
                # Catch-ups while messages flowed: a publish whose prev-id did not chain.
                notes.append(f"{proxy.next_link_requests() - links_before:,} next links while sending")
            busy_worker, busy_host = busy_cpu.stop()
            row["p50"] = percentile(probes.latencies, 50)
            row["p99"] = percentile(probes.latencies, 99)
            from_redis = probes.from_redis()

            # 3. resting figures, after messages flowed (ours opens its publishing connection then)
            row["open"] = sum(1 for s in streams if s.ok)
            asked = time.monotonic()
            try:
                # Counting every tracked object walks them all: give it time, and keep the row without it.
                answered = await http_request(server.port, "GET", "/live/stats?objects=1", timeout=60)
                gc_after = json.loads(answered[2]).get("gc")
            except (TimeoutError, OSError) as exc:
                gc_after = None
                notes.append(f"the worker's stats did not answer ({exc.__class__.__name__})")
            took = time.monotonic() - asked
            if took > 2:
                notes.append(f"the worker's stats took {took:.1f} s")
            info_delta = max(redis_idle, await self.connected_clients() - self.baseline)
            # The worker's own sockets are exact; INFO also counts any other Redis user.
            row["redis"] = len(worker_redis_ports(pid, self.redis_port))
            split = await self.redis_split(pid)
            row["rss"], pushpin_rss = rss_all()

            failed = [s for s in streams if not s.ok]
            if failed:
                reasons = {}
                for s in failed:
                    reasons[s.error or "no answer"] = reasons.get(s.error or "no answer", 0) + 1
                why = ", ".join(f"{k} x{v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
                notes.insert(0, f"FAILED {len(failed)} of {len(streams)} ({why})")
            if len(streams) < level:
                notes.insert(0, f"only {len(streams)} of {level} attempted")
            if impl in SESSION_IMPLS:
                notes.append(f"server counts {stats['streams']} streams, {stats['subscriptions']} subscriptions")
                final = json.loads((await http_request(server.port, "GET", "/live/stats"))[2])
                if final.get("redis_reconnects"):
                    notes.append(f"pub/sub RECONNECTED {final['redis_reconnects']} times")
            if split is not None:
                notes.append(f"Redis: {split}")
            if info_delta != row["redis"]:
                notes.append(f"INFO clients delta {info_delta:,} (other Redis users)")
            if probes.latencies:
                notes.append(f"max {max(probes.latencies):.0f} ms")
            if post_ms:
                notes.append(
                    f"POST answered in p50 {statistics.median(post_ms):.1f} ms, p99 {percentile(post_ms, 99):.1f} ms"
                )
            if from_redis:
                notes.append(
                    f"Redis-to-client part: p50 {percentile(from_redis, 50):.1f} ms, "
                    f"p99 {percentile(from_redis, 99):.1f} ms"
                )
            if row["open"]:
                per_stream = (row["rss"] - rss_start) * 1024 / row["open"]
                notes.append(f"{rss_start:.0f} MB at 0 streams, +{per_stream:.1f} KB/stream")
                if warm and row["open"] > warm[0][0]:
                    past = (row["rss"] - warm[0][1]) * 1024 / (row["open"] - warm[0][0])
                    notes.append(f"+{past:.1f} KB/stream past the first {warm[0][0]:,}")
                if proxy:
                    notes.append(
                        f"of which pushpin {pushpin_start:.0f} -> {pushpin_rss:.0f} MB "
                        f"(+{(pushpin_rss - pushpin_start) * 1024 / row['open']:.1f} KB/stream), app worker "
                        f"+{(row['rss'] - pushpin_rss - rss_start + pushpin_start) * 1024 / row['open']:.1f} KB/stream"
                    )
            notes.append(
                f"worker CPU {idle_worker:.0f}% idle, {busy_worker:.0f}% while sending; "
                f"host CPU {busy_host:.0f}% busy while sending"
            )
            notes.append(f"opened in {open_took:.0f} s")
            if gc_before and gc_after:
                notes.append(gc_note(served, gc_before, gc_after, sending_from))

            # 4. the clients leave: what does the worker still hold in Redis?
            for s in streams:
                s.close()
            await asyncio.sleep(3)
            left = len(worker_redis_ports(pid, self.redis_port))
            if impl == "stock" and left:  # ours keeps its listener and publishing pool anyway
                notes.append(f"{left} Redis conns still held 3 s after every client left")
        finally:
            for s in streams:
                s.close()
            try:
                log_text = server.log_text()
            except OSError:
                pass
            server.stop()
            if proxy:
                proxy.stop()
        # The worker is gone, and its Redis connections with it (bounded wait).
        give_up = time.monotonic() + 15
        while await self.connected_clients() > self.baseline and time.monotonic() < give_up:
            await asyncio.sleep(0.2)
        notes += log_findings(log_text)
        if args.server_log:
            with open(f"{args.server_log}/{impl}-{level}-{gc_mode}.log", "w") as kept:
                kept.write(log_text)
        row["notes"] = "; ".join(notes)
        return row

    async def run(self):
        rows = []
        await self.setup()
        if "ours" in self.args.impl and self.args.cold_trials:
            print(f"# ours: cold start, {self.args.cold_trials} trials ...", flush=True)
            try:
                self.cold = await asyncio.wait_for(self.cold_start_check(), self.args.level_timeout)
            except (TimeoutError, OSError, RuntimeError, ValueError, KeyError) as exc:
                print(f"# cold start check failed: {exc!r}", flush=True)
        for level in self.args.levels:
            for impl in self.args.impl:
                for gc_mode in self.args.gc if impl in SESSION_IMPLS else ["default"]:
                    print(f"# {impl} (GC {gc_mode}): {level} streams ...", flush=True)
                    try:
                        row = await asyncio.wait_for(self.run_one(impl, level, gc_mode), self.args.level_timeout)
                    except TimeoutError:
                        row = empty_row(impl, level, f"run timed out after {self.args.level_timeout:.0f} s", gc_mode)
                    except (OSError, RuntimeError, ValueError, KeyError) as exc:  # report, go on
                        row = empty_row(impl, level, f"run failed: {exc!r}"[:300], gc_mode)
                    rows.append(row)
                    print("#   " + table_line(row), flush=True)
        return rows

    async def close(self):
        if self.watcher is not None:
            client, pubsub, task = self.watcher
            task.cancel()
            await pubsub.aclose()
            await client.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        shutil.rmtree(self.tmp, ignore_errors=True)


def empty_row(impl, level, notes="", gc_mode="default"):
    return {
        "impl": impl,
        "gc": gc_mode,
        "requested": level,
        "open": 0,
        "redis": None,
        "rss": None,
        "p50": None,
        "p99": None,
        "notes": notes,
    }


def log_findings(text):
    """The worker's telling errors, counted (its log is deleted when the server stops)."""
    findings = []
    for needle, label in (
        ("max number of clients reached", "Redis maxclients errors"),
        ("MaxConnectionsError: Too many connections", "redis-py pool 'Too many connections' errors"),
        ("Too many open files", "EMFILE errors"),
        ("pub/sub lost", "'redis pub/sub lost' warnings"),
        ("could not publish", "'could not publish' warnings"),
        ("Error handling request", "failed requests"),
    ):
        n = text.count(needle)
        if n:
            findings.append(f"server log: {n} {label}")
    return findings


HEADER = (
    "| implementation | GC | streams requested | streams open | Redis connections | worker RSS MB "
    "| p50 ms | p99 ms | notes |\n|---|---|---:|---:|---:|---:|---:|---:|---|"
)


def gc_note(served, before, after, sending_from):
    """The worker's garbage collections (LIVE_STATS_ENABLED's gc figures): full ones while
    the streams opened and idled, and every one while messages flowed."""

    def full(since, until=float("inf")):
        pauses = [ms for at, ms in after["full"] if since <= at < until]
        return f"{len(pauses)} full (longest {max(pauses, default=0):.0f} ms)"

    def young(generation):
        count = after["collections"][generation] - before["collections"][generation]
        took = after["pause_ms"][generation] - before["pause_ms"][generation]
        return f"{count} of gen {generation} ({took:.0f} ms)"

    return (
        f"GC opening+idle: {full(served, sending_from)}; GC while sending: {full(sending_from)}, "
        f"{young(0)}, {young(1)}; generations before sending {before.get('generations')}, "
        f"after {after.get('generations')}; {after['tracked']:,} objects tracked, "
        f"{after['frozen']:,} frozen, thresholds {after['threshold']}"
    )


def table_line(row):
    def ms(value):
        return "n/a" if value is None else f"{value:.1f}"

    redis = "n/a" if row["redis"] is None else f"{row['redis']:,}"
    rss = "n/a" if row["rss"] is None else f"{row['rss']:.0f}"
    return (
        f"| {IMPLEMENTATIONS[row['impl']][1]} | {row.get('gc', 'default')} | {row['requested']:,} | {row['open']:,} | {redis} "
        f"| {rss} | {ms(row['p50'])} | {ms(row['p99'])} | {row.get('notes', '')} |"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--levels",
        default="1000,5000,10000",
        help="comma-separated numbers of concurrent streams (default 1000,5000,10000)",
    )
    parser.add_argument("--quick", action="store_true", help="levels 200,1000: a fast check")
    parser.add_argument(
        "--impl", default="ours,stock", help="comma-separated, of: ours, stock, pushpin (default ours,stock)"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--db",
        choices=["sqlite", "mariadb"],
        default="sqlite",
        help="the app's database: SQLite in the scratch dir (default), or a fresh database on "
        "the tests' MariaDB (TEST_MYSQL_URL, default root@127.0.0.1:3306)",
    )
    parser.add_argument("--probes", type=int, default=10, help="probe streams for latency (default 10)")
    parser.add_argument("--sends", type=int, default=200, help="messages sent per run (default 200)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds to spread them over")
    parser.add_argument("--batch", type=int, default=200, help="streams opened at a time (default 200)")
    parser.add_argument("--batch-timeout", type=float, default=30.0)
    parser.add_argument(
        "--open-timeout", type=float, default=60.0, help="seconds to open a run's streams, plus 20 ms per stream"
    )
    parser.add_argument(
        "--cold-trials",
        type=int,
        default=8,
        help="fresh workers hit by a burst of --batch first streams (default 8; 0: skip)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="idle seconds after opening, when the worker's idle CPU is measured "
        "(default: one heartbeat interval + 1 s, so every stream beats once)",
    )
    parser.add_argument(
        "--gc",
        default="tuned",
        help="comma-separated, of: default (Python's GC settings), tuned (gunicorn.conf.py's GC_TUNING), "
        "or thresholds such as 10000:20:10 (GC_TUNING with those); several run each level of ours "
        "once each, side by side (default tuned)",
    )
    parser.add_argument("--heartbeat", type=float, default=15.0, help="SSE_HEARTBEAT_SECONDS for ours")
    parser.add_argument(
        "--pushpin-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a line of deploy/pushpin/pushpin.conf to replace for this run (repeatable)",
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=0,
        help="chat sessions to make (default one per stream); fewer: idle streams share them round-robin",
    )
    parser.add_argument("--server-log", help="a folder to keep each run's server log in")
    parser.add_argument("--session-timeout", type=float, default=240.0)
    parser.add_argument("--level-timeout", type=float, default=300.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="overall limit in seconds")
    args = parser.parse_args(argv)
    args.levels = [200, 1000] if args.quick else [int(x) for x in args.levels.split(",") if x.strip()]
    args.impl = [x.strip() for x in args.impl.split(",") if x.strip()]
    args.gc = [x.strip() for x in args.gc.split(",") if x.strip()]
    if not args.gc or not all(mode in {"default", "tuned"} or GC_TRIPLE.fullmatch(mode) for mode in args.gc):
        parser.error("bad --gc")
    if args.settle is None:
        args.settle = args.heartbeat + 1
    if not args.levels or min(args.levels) < 1 or not set(args.impl) <= set(IMPLEMENTATIONS):
        parser.error("bad --levels or --impl")
    return args


async def amain(args):
    bench = Bench(args)
    try:
        return await asyncio.wait_for(bench.run(), args.timeout), bench.cold
    finally:
        await bench.close()


def main(argv=None):
    args = parse_args(argv)
    soft, hard = raise_nofile_limit()
    print(f"# load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start", flush=True)
    print(
        f"# {os.cpu_count()} CPUs, client open-files limit {soft}/{hard}, levels {args.levels}, "
        f"{args.probes} probe streams, {args.sends} sends over {args.duration:.0f} s",
        flush=True,
    )
    started = time.monotonic()
    rows, cold = asyncio.run(amain(args))
    print()
    print(HEADER)
    for row in rows:
        print(table_line(row))
    if cold:
        burst, trials = cold
        raced = [redis for _, redis in trials if redis > 1]
        print(
            f"\nCold start (ours): {burst} first streams at once on a fresh worker, {len(trials)} trials: "
            f"worker's Redis connections per trial {[redis for _, redis in trials]} "
            f"(streams open {[n for n, _ in trials]}); more than 1 in {len(raced)} of {len(trials)}."
        )
    print(f"\n# total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
