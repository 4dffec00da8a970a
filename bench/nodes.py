"""Two app nodes behind HAProxy, one killed mid-run: lost, duplicated, how late.

    .venv/bin/python bench/nodes.py
    .venv/bin/python bench/nodes.py --shoppers 40 --rate 20 --seconds 40

A benchmark, not a test: it prints figures and never passes or fails. Needs
Debian's haproxy (`apt-get install -y haproxy`), MariaDB and Redis (the shared
ones on 127.0.0.1; a fresh database and a random channel prefix, dropped after).

Two nodes: separate gunicorn masters (2 gevent workers each) on their own spare
ports, one database, one Redis; in front, HAProxy started from deploy/haproxy.cfg
as it is (CHAT_BIND, CHAT_NODE1, CHAT_NODE2 set to spare ports). Every request goes
through HAProxy: shoppers' (their messages and their streams) pinned to node1,
the shop's answers (the admin API) to node2, with the X-Chat-Node header the config
knows. Messages go out at ``--rate`` a second, alternating a shopper's follow-up and
an answer, round-robin over the shoppers. A third of the way in, node1 is killed
(SIGKILL, master and workers): its streams break, reconnect through HAProxy (now to
node2) with ``after=`` the last message they show and replay from the database;
a send that fails is retried with the same client message id. At the end every
stream is checked against the database: lost, duplicated. Send-to-receipt times
(before the POST to the event on the shopper's stream) for answers (node2 to a
stream on node1, or after the kill on node2) and the shoppers' own messages, before
and after the kill.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import requests  # noqa: E402

from tests import backends  # noqa: E402
from tests.live_server import BIN, LiveServer, free_port, prepared_env  # noqa: E402
from tests.sse_client import SSEClient  # noqa: E402

RETRIES = {}  # why a request was sent again: count


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(0, -(-pct * len(ordered) // 100) - 1)] if ordered else None


def children(pid):
    """Direct child processes of ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


class HAProxy:
    def __init__(self, nodes):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, CHAT_BIND=f"127.0.0.1:{self.port}")
        for i, node in enumerate(nodes, 1):
            env[f"CHAT_NODE{i}"] = f"127.0.0.1:{node.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="chat-haproxy-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            ["haproxy", "-db", "-f", os.path.join(ROOT, "deploy", "haproxy.cfg")],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/widget.js", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("haproxy did not answer")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.unlink(self.log.name)


class Shopper:
    """A shopper on node1 through HAProxy: sends, and one stream that reconnects by itself."""

    def __init__(self, proxy, index, admin_auth):
        self.proxy, self.admin_auth = proxy, admin_auth
        self.pin = {"X-Chat-Node": "node1"}
        self.token = None
        first = self.send(f"shopper {index} asks")
        self.inquiry_id, self.first_id = first["inquiry_id"], first["id"]
        self.received = []  # (message id, arrival time), in arrival order
        self.reconnects = 0
        self.stopped = threading.Event()
        self.stream = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _retrying(self, method, path, headers, body, attempts=20):
        """The request until it is answered (a node may die under it): same body, same client id."""
        for attempt in range(attempts):
            try:
                response = requests.request(method, self.proxy.url + path, headers=headers, json=body, timeout=10)
                if response.status_code < 500:
                    response.raise_for_status()
                    return response
                RETRIES[f"HTTP {response.status_code}"] = RETRIES.get(f"HTTP {response.status_code}", 0) + 1
            except requests.ConnectionError as exc:
                RETRIES[type(exc).__name__] = RETRIES.get(type(exc).__name__, 0) + 1
            time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"{method} {path} never answered")

    def send(self, text):
        headers = dict(self.pin, **({"X-Chat-Session": self.token} if self.token else {}))
        body = {"message_text": text, "client_message_id": str(uuid.uuid4())}
        response = self._retrying("POST", "/api/products/1/messages", headers, body)
        self.token = self.token or response.headers["X-Chat-Session"]
        return response.json()

    def answer(self, text):
        headers = dict(self.admin_auth, **{"X-Chat-Node": "node2"})
        path = f"/api/admin/inquiries/{self.inquiry_id}/respond"
        return self._retrying("POST", path, headers, {"message_text": text}).json()

    def _read(self):
        after = self.first_id
        while not self.stopped.is_set():
            try:
                headers = dict(self.pin, **{"X-Chat-Session": self.token})
                ticket = requests.post(self.proxy.url + "/embed/demo/stream-ticket", headers=headers, timeout=10)
                ticket.raise_for_status()
                url = f"{self.proxy.url}/embed/demo/stream?product=1&after={after}&ticket={ticket.json()['ticket']}"
                self.stream = SSEClient(url, headers=self.pin)
                while not (self.stopped.is_set() or (self.stream.closed.is_set() and self.stream.events.empty())):
                    try:
                        event = self.stream.events.get(timeout=0.2)
                    except Exception:  # noqa: BLE001 - queue.Empty: look again
                        continue
                    if event.type == "message" and event.id:
                        self.received.append((int(event.id), event.at))
                        after = max(after, int(event.id))
            except (requests.RequestException, OSError, ValueError, KeyError):
                pass
            if not self.stopped.is_set():
                self.reconnects += 1
                time.sleep(0.5)  # the widget's first backoff step

    def stored_ids(self):
        response = self._retrying(
            "GET", "/api/products/1/messages?limit=100", dict(self.pin, **{"X-Chat-Session": self.token}), None
        )
        return [m["id"] for m in response.json()["messages"] if m["id"] > self.first_id]

    def close(self):
        self.stopped.set()
        if self.stream is not None:
            self.stream.close()


def run(args, node1, node2, proxy):
    token = subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "create-token", "admin@example.com"],
        env=node1.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    admin_auth = {"Authorization": f"Bearer {token}"}
    shoppers = [Shopper(proxy, i, admin_auth) for i in range(args.shoppers)]
    time.sleep(2)  # every stream open
    sent = {}  # message id -> (kind, send time)
    timeline = {}

    def killer():
        time.sleep(args.seconds / 3)
        timeline["kill"] = time.monotonic()
        for pid in children(node1.process.pid) + [node1.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        node1.process.wait()

    print(
        f"# {args.shoppers} shoppers' streams via HAProxy on node1; node1 killed at {args.seconds / 3:.0f} s",
        flush=True,
    )
    thread = threading.Thread(target=killer)
    start = time.monotonic()
    thread.start()
    n = 0
    lock = threading.Lock()

    def write(shopper, n, t0):
        if n % 2:
            sent_id, kind = shopper.send(f"follow-up {n}")["id"], "shopper's own (node1, then node2)"
        else:
            sent_id, kind = shopper.answer(f"answer {n}")["id"], "answer (node2 to the shopper's stream)"
        with lock:
            sent[sent_id] = (kind, t0)

    writers = []
    while time.monotonic() - start < args.seconds:
        time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
        writer = threading.Thread(target=write, args=(shoppers[n % len(shoppers)], n, time.monotonic()))
        writer.start()
        writers.append(writer)
        n += 1
    thread.join()
    for writer in writers:
        writer.join(timeout=60)
    deadline = time.monotonic() + 30
    for shopper in shoppers:
        want = set(shopper.stored_ids())
        while time.monotonic() < deadline and not want <= {i for i, _ in shopper.received}:
            time.sleep(0.1)
    time.sleep(2)  # a duplicate would arrive now
    lost = duplicated = 0
    arrival = {}
    for shopper in shoppers:
        shopper.close()
        ids = [i for i, _ in shopper.received]
        lost += len(set(shopper.stored_ids()) - set(ids))
        duplicated += len(ids) - len(set(ids))
        for message_id, at in shopper.received:
            arrival.setdefault(message_id, at)
    rows = {}
    for message_id, (kind, t0) in sent.items():
        if message_id in arrival:
            phase = "before the kill" if t0 < timeline["kill"] else "after the kill"
            rows.setdefault((kind, phase), []).append((arrival[message_id] - t0) * 1000)
    stream_breaks = sum(s.reconnects for s in shoppers)
    print()
    print(
        f"{len(sent)} messages sent over {args.seconds:.0f} s to {args.shoppers} shoppers; node1 killed at "
        f"{timeline['kill'] - start:.0f} s; {stream_breaks} stream reconnects; {lost} lost, {duplicated} duplicated"
    )
    print(f"requests sent again: {RETRIES or 'none'}")
    lines = [line for line in node2.log_text().splitlines() if "WARNING" in line or "ERROR" in line]
    kinds = {}
    for line in lines:
        key = line.split("]", 3)[-1][:120]
        kinds[key] = kinds.get(key, 0) + 1
    for key, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
        print(f"node2 log: {count} x {key}")
    print()
    print("| messages | phase | count | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|")
    for (kind, phase), values in sorted(rows.items()):
        print(
            f"| {kind} | {phase} | {len(values)} | {percentile(values, 50):.0f} | {percentile(values, 99):.0f} "
            f"| {max(values):.0f} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0, help="messages a second (default 10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send (default 30)")
    args = parser.parse_args()
    name, url = backends.create_mysql_database()
    node1 = node2 = proxy = None
    try:
        env = prepared_env(
            None,
            url,
            redis_url=backends.REDIS_URL,
            TRUSTED_PROXY_COUNT="1",
            SSE_HEARTBEAT_SECONDS="5",
            LOG_LEVEL="warning",
            LIVE_CHANNEL_PREFIX=f"bench-nodes-{uuid.uuid4().hex[:8]}:",
        )
        node1 = LiveServer(env, workers=2).start()
        node2 = LiveServer(env, workers=2).start()
        proxy = HAProxy([node1, node2])
        run(args, node1, node2, proxy)
    finally:
        for part in (proxy, node1, node2):
            if part is not None:
                part.stop()
        backends.drop_mysql_database(name)


if __name__ == "__main__":
    main()
