"""Two app nodes behind Debian's HAProxy (deploy/haproxy.cfg as it is), for a test and a bench.

Two gunicorn masters (2 gevent workers each) on spare ports share a fresh MariaDB
database and Redis (a random channel prefix); HAProxy runs in front on a spare port.
Shoppers' requests and streams are pinned to node1, the shop's answers to node2
(the X-Chat-Node header the config knows); ``run`` kills node1 mid-run and counts,
against the database, what each stream lost or got twice.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import requests

from . import backends
from .live_server import ROOT, LiveServer, demo_admin_token, free_port, prepared_env
from .sse_client import SSEClient


def haproxy_available():
    return shutil.which("haproxy") is not None


RETRIES = {}  # why a request was sent again: count


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


@contextlib.contextmanager
def two_nodes():
    """(node1, node2, proxy, admin_auth); everything stopped and the database dropped after."""
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
            LIVE_CHANNEL_PREFIX=f"nodes-{uuid.uuid4().hex[:8]}:",
        )
        token = demo_admin_token(env)
        node1 = LiveServer(env, workers=2).start()
        node2 = LiveServer(env, workers=2).start()
        proxy = HAProxy([node1, node2])
        yield node1, node2, proxy, {"Authorization": f"Bearer {token}"}
    finally:
        for part in (proxy, node1, node2):
            if part is not None:
                part.stop()
        backends.drop_mysql_database(name)


def kill(server):
    """The node dies at once, as in a crash: SIGKILL to its master and workers."""
    for pid in children(server.process.pid) + [server.process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait()


class Run:
    """What ``run`` measured."""

    def __init__(self):
        self.sent = {}  # message id -> (kind, send time)
        self.arrival = {}  # message id -> first arrival time on its stream
        self.started = self.killed = None
        self.lost = self.duplicated = self.out_of_order = self.reconnects = 0


def run(node1, proxy, admin_auth, shoppers=20, rate=10.0, seconds=30.0):
    """Messages at ``rate`` a second for ``seconds``, alternating a shopper's follow-up
    (node1) and an answer (node2), round-robin over the shoppers; node1 killed a third
    of the way in. Every stream is then checked against the database."""
    result = Run()
    people = [Shopper(proxy, i, admin_auth) for i in range(shoppers)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(p.stream is not None for p in people):
        time.sleep(0.1)
    time.sleep(1)  # every stream open and flowing
    lock = threading.Lock()

    def killer():
        time.sleep(seconds / 3)
        result.killed = time.monotonic()
        kill(node1)

    def write(shopper, n, t0):
        if n % 2:
            sent_id, kind = shopper.send(f"follow-up {n}")["id"], "the shopper's own"
        else:
            sent_id, kind = shopper.answer(f"answer {n}")["id"], "answers"
        with lock:
            result.sent[sent_id] = (kind, t0)

    thread = threading.Thread(target=killer)
    result.started = time.monotonic()
    thread.start()
    writers, n = [], 0
    while time.monotonic() - result.started < seconds:
        time.sleep(max(0.0, result.started + n / rate - time.monotonic()))
        writer = threading.Thread(target=write, args=(people[n % len(people)], n, time.monotonic()))
        writer.start()
        writers.append(writer)
        n += 1
    thread.join()
    for writer in writers:
        writer.join(timeout=60)
    deadline = time.monotonic() + 30
    for shopper in people:
        want = set(shopper.stored_ids())
        while time.monotonic() < deadline and not want <= {i for i, _ in shopper.received}:
            time.sleep(0.1)
    time.sleep(2)  # a duplicate would arrive now
    for shopper in people:
        shopper.close()
        ids = [i for i, _ in shopper.received]
        result.lost += len(set(shopper.stored_ids()) - set(ids))
        result.duplicated += len(ids) - len(set(ids))
        result.out_of_order += ids != sorted(ids)
        result.reconnects += shopper.reconnects
        for message_id, at in shopper.received:
            result.arrival.setdefault(message_id, at)
    return result
