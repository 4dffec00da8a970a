"""Redis Cluster for real: two app processes on a 6-node cluster, a master killed mid-run.

The test starts its own cluster (3 masters, 3 replicas, spare ports, a 1 s node
timeout) and two gunicorn servers sharing MariaDB with ``REDIS_CLUSTER=true``.
Shoppers write and the shop answers through server A; each shopper's stream is
open on server B. Their channels spread over the three masters, and B holds one
sharded subscriber connection per master. Then the master behind one shopper's
channel is killed while messages keep coming: a replica takes over, B moves the
channels to it, the streams replay from the database, and every stream has every
message of its conversation exactly once, in order. The rate limits live in the
same cluster.
"""

import time
import uuid

import pytest
import redis
import requests

from chat.live.broker import RESYNC
from chat.live.cluster import ClusterBroker, cluster_nodes, limiter_uri

from . import backends
from .live_server import LiveServer, demo_admin_token, free_port, prepared_env
from .redis_cluster import RedisCluster, cluster_support, move_slot
from .sse_client import SSEClient, message_ids

SHOPPERS = 9


def _require_cluster():
    reason = cluster_support()
    if reason:
        if backends.IN_CI:
            pytest.fail(reason + " (CI=true: the cluster test must run)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster():
    """One cluster for the file (~6 s to build): the slot test runs first and leaves it whole,
    then the failover test kills one of its masters."""
    _require_cluster()
    with RedisCluster() as started:
        yield started


@pytest.fixture
def servers(tmp_path, cluster):
    backends.require("mariadb")
    name, url = backends.create_mysql_database()
    try:
        env = prepared_env(
            tmp_path,
            url,
            redis_url=cluster.url,
            REDIS_CLUSTER="true",
            REDIS_SHARDED_PUBSUB="true",
            RATELIMIT_ENABLED="true",
            CHAT_NEW_INQUIRIES_PER_IP="1000/minute",
            CHAT_NEW_SESSIONS_PER_IP="1000/minute",
            SSE_HEARTBEAT_SECONDS="1",
            LIVE_STATS_ENABLED="true",
            LIVE_CHANNEL_PREFIX=f"chat-cluster-{uuid.uuid4().hex[:8]}:",
        )
        token = demo_admin_token(env)
        with LiveServer(env) as a, LiveServer(env) as b:
            a.admin_auth = {"Authorization": f"Bearer {token}"}
            a.database = name
            yield a, b
    finally:
        backends.drop_mysql_database(name)


class Shopper:
    def __init__(self, writes_to, reads_from, index):
        self.writes_to, self.reads_from = writes_to, reads_from
        first = self.send(f"shopper {index} asks")
        self.token, self.inquiry_id = first.headers["X-Chat-Session"], first.json()["inquiry_id"]
        self.first_id = first.json()["id"]
        self.stream = None

    def send(self, text):
        headers = {"X-Chat-Session": self.token} if getattr(self, "token", None) else {}
        response = requests.post(
            f"{self.writes_to.url}/api/products/1/messages",
            headers=headers,
            json={"message_text": text, "client_message_id": str(uuid.uuid4())},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return response

    def answer(self, text):
        response = requests.post(
            f"{self.writes_to.url}/api/admin/inquiries/{self.inquiry_id}/respond",
            headers=self.writes_to.admin_auth,
            json={"message_text": text},
            timeout=10,
        )
        assert response.status_code == 201, response.text

    def open_stream(self):
        ticket = requests.post(
            f"{self.reads_from.url}/embed/demo/stream-ticket", headers={"X-Chat-Session": self.token}, timeout=10
        ).json()["ticket"]
        url = f"{self.reads_from.url}/embed/demo/stream?product=1&after={self.first_id}&ticket={ticket}"
        self.stream = SSEClient(url)
        self.stream.collect(lambda got: got and got[-1].type == "ready")

    def stored_ids(self):
        body = requests.get(
            f"{self.writes_to.url}/api/products/1/messages?limit=100",
            headers={"X-Chat-Session": self.token},
            timeout=10,
        ).json()
        return [m["id"] for m in body["messages"] if m["id"] > self.first_id]


def _stats(server):
    return requests.get(f"{server.url}/live/stats", timeout=10).json()


def _subscriber_connections(cluster, prefix):
    """master port -> how many of our subscriber connections it holds."""
    held = {}
    for port in cluster.masters():
        clients = cluster.node(port).client_list()
        held[port] = sum(1 for c in clients if c.get("name") == prefix + "sub")
    return held


def _eventually(check, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _drain(sub):
    return [sub.get(0) for _ in range(len(sub))]


def test_a_slot_moves_and_the_channel_follows_it(cluster):
    prefix = f"chat-slot-{uuid.uuid4().hex[:8]}:"
    reader, writer = ClusterBroker(cluster.url, prefix=prefix), ClusterBroker(cluster.url, prefix=prefix)
    try:
        sub = reader.subscribe({"customer:moving"})
        writer.publish("customer:moving", {"type": "message", "id": 1})
        assert _eventually(lambda: len(sub) >= 1)
        _drain(sub)
        before = cluster.master_of(prefix + "customer:moving")

        after = move_slot(cluster, prefix + "customer:moving")

        # Redis unsubscribed the reader on the old master; it subscribes on the new one
        # and tells the stream to replay what it may have missed.
        assert _eventually(lambda: f"127.0.0.1:{after}" in reader.shards())
        assert _eventually(lambda: RESYNC in _drain(sub))
        assert reader.moves == 1 and before != after
        writer.publish("customer:moving", {"type": "message", "id": 2})
        assert _eventually(lambda: len(sub) >= 1)
        assert _drain(sub) == [{"type": "message", "id": 2}]
    finally:
        reader.close()
        writer.close()


def test_a_master_dies_and_every_stream_gets_every_message_once(servers, cluster):
    a, b = servers
    shoppers = [Shopper(a, b, i) for i in range(SHOPPERS)]
    for shopper in shoppers:
        shopper.open_stream()
    prefix = a.env["LIVE_CHANNEL_PREFIX"]
    sessions = backends.session_ids(a.database, [s.inquiry_id for s in shoppers])
    channel = {s: f"{prefix}customer:{sessions[s.inquiry_id]}" for s in shoppers}
    channels = set(channel.values())

    # B subscribes each channel on the master that serves it: one connection per master.
    before = _stats(b)
    masters_used = {cluster.master_of(channel) for channel in channels}
    assert len(masters_used) >= 2, "the shoppers' channels should spread over the masters"
    # The resync channel's master too, which may serve no shopper.
    assert {int(name.rsplit(":", 1)[1]) for name in before["redis_shards"]} - masters_used <= {
        cluster.master_of(prefix + "live:resync")
    }
    assert {int(name.rsplit(":", 1)[1]) for name in before["redis_shards"]} >= masters_used
    held = _subscriber_connections(cluster, prefix)
    # Server A has no stream: no subscriber connection at all.
    assert all(held[port] == 1 for port in masters_used) and max(held.values()) == 1, held

    for round_ in range(2):
        for i, shopper in enumerate(shoppers):
            (shopper.send if (i + round_) % 2 else shopper.answer)(f"round {round_} for {i}")

    # Kill the master behind the first shopper's channel, and keep writing meanwhile.
    victim = cluster.master_of(channel[shoppers[0]])
    on_victim = [c for c in channels if cluster.master_of(c) == victim]
    cluster.kill(victim)
    for round_ in range(2, 5):
        for i, shopper in enumerate(shoppers):
            (shopper.send if (i + round_) % 2 else shopper.answer)(f"round {round_} for {i}")
    cluster.wait_promoted(victim)
    for round_ in range(5, 7):
        for i, shopper in enumerate(shoppers):
            (shopper.send if (i + round_) % 2 else shopper.answer)(f"round {round_} for {i}")

    expected, got = {}, {}
    for shopper in shoppers:
        expected[shopper] = shopper.stored_ids()
        assert len(expected[shopper]) == 7, expected[shopper]
        want = set(expected[shopper])
        got[shopper] = shopper.stream.collect(lambda got, want=want: want <= set(message_ids(got)), timeout=30)
    # Nothing more arrives: a duplicate would come with the next heartbeat's replay at the latest.
    # One 2 s window for all the streams (each reader keeps queueing what arrives meanwhile).
    window_ends = time.monotonic() + 2
    for shopper in shoppers:
        try:
            got[shopper] += shopper.stream.collect(
                lambda got: any(e.type == "message" for e in got),
                timeout=max(0.05, window_ends - time.monotonic()),
            )
        except AssertionError:
            pass
        assert message_ids(got[shopper]) == expected[shopper], "lost, duplicated or out of order"
        shopper.stream.close()

    after = _stats(b)
    # Every channel of the dead master was subscribed again on the replica that took over.
    assert after["redis_moves"] >= len(on_victim) > 0
    assert f"127.0.0.1:{victim}" not in after["redis_shards"]
    assert after["redis_connected"]

    # The rate limits are counted in the cluster too (limits' cluster storage).
    keys = []
    for port in cluster.masters():
        keys += list(redis.Redis(port=port).scan_iter("LIMITS*"))
    assert keys, "no rate limit was counted in the cluster"


def test_cluster_urls():
    assert cluster_nodes("redis://user:secret@10.0.0.1:7000,10.0.0.2:7001/0") == (
        "user",
        "secret",
        [("10.0.0.1", 7000), ("10.0.0.2", 7001)],
    )
    assert cluster_nodes("redis://redis-a") == (None, None, [("redis-a", 6379)])
    # Flask-Limiter's storage for the same cluster.
    assert limiter_uri("redis://:pw@10.0.0.1:7000,10.0.0.2:7001/0") == "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001"


@pytest.fixture
def app_config():
    """A cluster that does not answer (nothing listens on that port)."""
    url = f"redis://127.0.0.1:{free_port()}"
    return {"REDIS_URL": url, "REDIS_CLUSTER": True, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": url}


def test_the_app_starts_and_takes_messages_while_the_cluster_is_down(app, client, demo):
    from chat.live import current_broker

    sent = client.post("/api/products/1/messages", json={"message_text": "Redis Cluster is down"})
    assert sent.status_code == 201, sent.get_data(as_text=True)
    assert client.get("/api/products/1/messages", headers={"X-Chat-Session": sent.headers["X-Chat-Session"]}).json[
        "messages"
    ][-1]["message_text"] == ("Redis Cluster is down")
    broker = current_broker(app)
    assert isinstance(broker, ClusterBroker) and broker.publish_failures >= 1
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"  # per process until the cluster answers at a restart
