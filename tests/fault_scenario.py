"""Faults under load: shoppers send, streams listen, while Redis, the database and a worker fail.

Used by bench/faults.py (figures) and tests/test_faults.py (a smaller pass/fail run).

The server is the real one: gunicorn with 2 gevent workers, production settings,
rate limits on (kept in Redis), on a fresh MariaDB database reached through a
TCP proxy we can cut, and a redis-server of our own. Each shopper thread sends
messages one after the other (the JSON API or the widget's endpoint, in turns),
each with its own client_message_id, retrying the same id after any failure
until it is acknowledged (2xx). Each conversation has ``streams`` SSE streams
(the widget's embed stream) that reconnect after any drop with ``after=`` the
last message id they saw, as the widget does.

Every message is counted in the window in which it was first sent:
baseline, Redis stopped, Redis back, database cut, database back, worker
SIGKILLed. At the end we read the database directly (not through the proxy).
"""

import collections
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from urllib.parse import urlsplit

import pymysql
import requests

from . import backends
from .live_server import LiveServer, prepared_env
from .redis_server import RedisServer
from .sse_client import SSEClient
from .tcp_proxy import TCPProxy

WINDOWS = ["baseline", "Redis stopped", "Redis back", "database cut", "database back", "worker SIGKILLed"]
SENT_ID = re.compile(r'id="msg-(\d+)"')


class Clock:
    """Which window we are in, and what every attempt answered, per window."""

    def __init__(self):
        self.window = "setup"
        self.attempts = collections.defaultdict(collections.Counter)  # window -> status -> n

        self.seconds = collections.defaultdict(list)  # window -> durations of its 503 answers
        self.errors = collections.Counter()  # connection errors, by window and message

    def note(self, window, status, seconds):
        self.attempts[window][status] += 1
        if status == 503:
            self.seconds[window].append(seconds)


class Shopper(threading.Thread):
    def __init__(self, n, url, product, via, clock, stop, interval, give_up_after=90):
        super().__init__(daemon=True, name=f"shopper-{n}")
        self.n, self.url, self.product, self.via = n, url, product, via
        self.clock, self.stop, self.interval, self.give_up_after = clock, stop, interval, give_up_after
        self.http = requests.Session()
        self.token = None
        self.sent = []  # dicts: client_id, window, acked, message_id, attempts, statuses
        self.inquiry_id = None

    def send_one(self):
        record = {
            "client_id": str(uuid.uuid4()),
            "window": self.clock.window,
            "acked": False,
            "message_id": None,
            "attempts": 0,
            "statuses": collections.Counter(),
        }
        self.sent.append(record)
        text = f"shopper {self.n} message {len(self.sent)}"
        deadline = time.monotonic() + self.give_up_after
        backoff = 0.1
        while time.monotonic() < deadline:
            record["attempts"] += 1
            started, window = time.monotonic(), self.clock.window
            status = self._post(record, text)
            record["statuses"][status] += 1
            self.clock.note(window, status, time.monotonic() - started)
            if isinstance(status, int) and status < 300:
                record["acked"] = True
                return record
            if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
                return record  # refused for good: a bug in this scenario, shown in the table
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
        return record

    def _post(self, record, text):
        headers = {"X-Chat-Session": self.token} if self.token else {}
        try:
            if self.via == "api" or self.token is None:
                response = self.http.post(
                    f"{self.url}/api/products/{self.product}/messages",
                    headers=headers,
                    json={"message_text": text, "client_message_id": record["client_id"]},
                    timeout=10,
                )
            else:
                response = self.http.post(
                    f"{self.url}/embed/demo/products/{self.product}/messages",
                    timeout=10,
                    headers={**headers, "HX-Request": "true"},
                    data={"message_text": text, "client_message_id": record["client_id"]},
                )
        except requests.RequestException as exc:
            self.clock.errors[f"{self.clock.window}: {str(exc)[-90:]}"] += 1
            return type(exc).__name__
        if response.headers.get("X-Chat-Session"):
            self.token = response.headers["X-Chat-Session"]
        if response.status_code < 300:
            if response.headers.get("Content-Type", "").startswith("application/json"):
                body = response.json()
                record["message_id"], self.inquiry_id = body["id"], body["inquiry_id"]
            else:
                found = SENT_ID.search(response.text)
                record["message_id"] = int(found.group(1)) if found else None
        return response.status_code

    def run(self):
        while not self.stop.is_set():
            self.send_one()
            self.stop.wait(self.interval)


class StreamReader(threading.Thread):
    """One open widget stream of a shopper's conversation, reconnecting as the widget does."""

    def __init__(self, url, shopper, stop):
        super().__init__(daemon=True, name=f"stream-{shopper.n}")
        self.url, self.shopper, self.stop = url, shopper, stop
        self.received = collections.Counter()
        self.last = 0
        self.connects = 0
        self.ready = threading.Event()

    def run(self):
        while not self.stop.is_set():
            client = None
            try:
                ticket = requests.post(
                    f"{self.url}/embed/demo/stream-ticket", timeout=5, headers={"X-Chat-Session": self.shopper.token}
                )
                if ticket.status_code != 200:
                    raise OSError(f"ticket {ticket.status_code}")
                client = SSEClient(
                    f"{self.url}/embed/demo/stream?product={self.shopper.product}"
                    f"&after={self.last}&ticket={ticket.json()['ticket']}",
                    timeout=30,
                )
                if client.status != 200:
                    raise OSError(f"stream {client.status}")
                self.connects += 1
                while not self.stop.is_set():
                    try:
                        event = client.events.get(timeout=0.2)
                    except queue.Empty:
                        if client.closed.is_set() and client.events.empty():
                            break  # dropped: reconnect
                        continue
                    if event.type == "ready":
                        self.ready.set()
                    elif event.type == "message" and event.id:
                        message_id = int(event.id)
                        self.received[message_id] += 1
                        self.last = max(self.last, message_id)
            except (OSError, requests.RequestException, ValueError):
                self.stop.wait(0.3)
            finally:
                if client is not None:
                    client.close()


def worker_pids(master_pid):
    out = subprocess.run(["ps", "--ppid", str(master_pid), "-o", "pid="], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def run(shoppers=8, streams=2, window_seconds=5.0, interval=0.05, min_messages=1000, log=print):
    """Run the scenario; returns (rows, attempts, details) for report() and the test."""
    backends.require("mariadb")
    name, direct_url = backends.create_mysql_database()
    parts = urlsplit(direct_url)
    tmp = tempfile.mkdtemp(prefix="chat-faults-")
    redis_server = RedisServer().start()
    proxy = TCPProxy(parts.hostname, parts.port or 3306).start()
    proxied = direct_url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    stop = threading.Event()  # the shoppers stop sending
    listening = threading.Event()  # set: the streams stop listening (after catching up)
    clock = Clock()
    try:
        env = prepared_env(
            tmp,
            proxied,
            redis_url=redis_server.url,
            RATELIMIT_ENABLED="true",
            CHAT_SEND_RATE_LIMIT="100000/minute",
            CHAT_NEW_SESSIONS_PER_IP="100000/minute",
            CHAT_NEW_INQUIRIES_PER_IP="100000/minute",
            SSE_HEARTBEAT_SECONDS="2",
            LOG_LEVEL="warning",
        )
        server = LiveServer(env, workers=2).start()
        try:
            log(f"server {server.url} (2 workers), redis {redis_server.url}, database via proxy :{proxy.port}")
            senders = [
                Shopper(
                    n,
                    server.url,
                    product=1 + n % 12,
                    via=("api", "widget")[n % 2],
                    clock=clock,
                    stop=stop,
                    interval=interval,
                )
                for n in range(shoppers)
            ]
            for shopper in senders:  # the first message opens the conversation the streams follow
                assert shopper.send_one()["acked"], "first message refused"
            readers = [StreamReader(server.url, shopper, listening) for shopper in senders for _ in range(streams)]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.ready.wait(20)
            clock.window = "baseline"
            for shopper in senders:
                shopper.start()

            def window(label, action=None, repair=False):
                # A fault's window opens once it is in place; a repair's as it starts,
                # so that no attempt made while the fault lasts is counted after it.
                started = time.monotonic()
                if repair:
                    clock.window = label
                if action is not None:
                    action()
                clock.window = label
                log(f"{time.strftime('%H:%M:%S')} {label} (took {time.monotonic() - started:.2f} s)")
                time.sleep(window_seconds)

            window("baseline")
            window("Redis stopped", redis_server.stop)
            window("Redis back", redis_server.start, repair=True)
            window("database cut", proxy.cut)
            window("database back", proxy.restore, repair=True)
            victim = worker_pids(server.process.pid)[0]
            window("worker SIGKILLed", lambda: os.kill(victim, signal.SIGKILL))
            while sum(len(s.sent) for s in senders) < min_messages:
                time.sleep(0.5)
            stop.set()
            for shopper in senders:
                shopper.join(timeout=120)
            rows = _account(direct_url, senders, readers, log)
            details = {"server_log": server.log_text()}
        finally:
            stop.set()
            listening.set()
            server.stop()
    finally:
        stop.set()
        proxy.cut()
        redis_server.stop()
        backends.drop_mysql_database(name)
    details["connection errors"] = dict(clock.errors)
    details["503 seconds"] = sorted(t for w in WINDOWS for t in clock.seconds[w])
    return rows, {w: dict(clock.attempts[w]) for w in WINDOWS}, details


def _stored(direct_url):
    parts = urlsplit(direct_url.replace("mysql+pymysql", "mysql"))
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
    )
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT client_msg_id, COUNT(*), MIN(id), MIN(inquiry_id) FROM product_messages "
                "WHERE sender_type = 'customer' GROUP BY client_msg_id"
            )
            by_client = {row[0]: {"rows": row[1], "id": row[2], "inquiry": row[3]} for row in cur.fetchall()}
            cur.execute(
                "SELECT COUNT(*) FROM product_inquiries i WHERE NOT EXISTS "
                "(SELECT 1 FROM product_messages m WHERE m.inquiry_id = i.id)"
            )
            empty_inquiries = cur.fetchone()[0]
    finally:
        conn.close()
    return by_client, empty_inquiries


def _account(direct_url, senders, readers, log):
    by_client, empty_inquiries = _stored(direct_url)
    streams_of = collections.defaultdict(list)
    for reader in readers:
        streams_of[reader.shopper.n].append(reader)
    # Give the streams time to catch up with what was stored (they replay on reconnect).
    expected = {(s.n, by_client[r["client_id"]]["id"]) for s in senders for r in s.sent if r["client_id"] in by_client}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
        reader.received[mid] == 0 for n, mid in expected for reader in streams_of[n]
    ):
        time.sleep(0.5)
    for reader in readers:
        reader.stop.set()
    rows = {w: collections.Counter() for w in ["setup"] + WINDOWS}
    rows["missed"] = []
    for shopper in senders:
        for record in shopper.sent:
            row = rows[record["window"]]
            stored = by_client.get(record["client_id"])
            row["sent"] += 1
            row["acknowledged"] += record["acked"]
            row["retried"] += record["attempts"] > 1
            row["stored"] += stored is not None
            counts = [reader.received[stored["id"]] for reader in streams_of[shopper.n]] if stored else []
            delivered_everywhere = bool(counts) and min(counts) >= 1
            row["delivered"] += delivered_everywhere
            row["lost"] += record["acked"] and not (stored and delivered_everywhere)
            if stored and not delivered_everywhere:
                rows["missed"].append(
                    (
                        record["window"],
                        shopper.n,
                        stored["id"],
                        counts,
                        [(r.last, r.connects) for r in streams_of[shopper.n]],
                    )
                )
            row["duplicated"] += bool(stored and (stored["rows"] > 1 or max(counts) > 1))
            row["acked id differs"] += bool(stored and record["message_id"] not in (None, stored["id"]))
    missed = rows.pop("missed")
    rows["baseline"].update(rows.pop("setup"))  # the first messages, sent before the streams opened
    rows["total"] = sum(rows.values(), collections.Counter())
    rows["total"]["inquiries without a message"] = empty_inquiries
    rows["total"]["stream connects"] = sum(r.connects for r in readers)
    for item in missed[:20]:
        log(
            f"not shown everywhere: window {item[0]}, shopper {item[1]}, message {item[2]}, "
            f"times per stream {item[3]}, streams' (last id, connects) {item[4]}"
        )
    return rows


COLUMNS = ["sent", "acknowledged", "stored", "delivered", "lost", "duplicated", "retried"]


def report(rows, attempts, streams):
    lines = [f"| window (fault) | {' | '.join(COLUMNS)} |", "|---" * (len(COLUMNS) + 1) + "|"]
    for window, row in rows.items():
        lines.append(f"| {window} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    total = rows["total"]
    lines.append("")
    lines.append(
        f"delivered = shown on all {streams} open streams of its conversation; "
        f"inquiries without a message: {total['inquiries without a message']}; "
        f"stream (re)connects: {total['stream connects']}; "
        f"acknowledged id differing from the stored one: {total['acked id differs']}"
    )
    lines.append("")
    lines.append("| window | answers to every attempt made in it |")
    lines.append("|---|---|")
    for window, counter in attempts.items():
        shown = ", ".join(f"{status}: {n}" for status, n in sorted(counter.items(), key=lambda kv: str(kv[0])))
        lines.append(f"| {window} | {shown} |")
    return "\n".join(lines)
