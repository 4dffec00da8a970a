"""The per-process broker and the after-commit publishing."""

import subprocess
import threading
import time
import uuid

import pytest

from chat.live import current_broker as get_broker
from chat.live import events
from chat.live.broker import RESYNC, LocalBroker, RedisBroker, Subscription
from chat.live.records import Unread

from . import backends
from .live_server import free_port


def test_local_broker_routes_by_channel_and_forgets_unsubscribed():
    broker = LocalBroker()
    a, b = broker.subscribe({"customer:a"}), broker.subscribe({"customer:b", "admins"})
    broker.publish("customer:a", {"type": "message", "id": 1})
    broker.publish("admins", {"type": "inquiry"})
    assert a.get(0.1) == {"type": "message", "id": 1} and a.get(0.01) is None
    assert b.get(0.1) == {"type": "inquiry"} and b.get(0.01) is None
    broker.unsubscribe(b)
    assert broker.subscription_count() == 1
    broker.publish("admins", {"type": "inquiry"})
    assert b.get(0.01) is None


def test_a_stalled_subscriber_is_told_to_resync_instead_of_growing_forever():
    broker = LocalBroker()
    sub = broker.subscribe({"c"})
    for i in range(sub.maxsize + 5):
        broker.publish("c", {"type": "message", "id": i})
    assert len(sub) <= sub.maxsize
    drained = []
    while (event := sub.get(0.01)) is not None:
        drained.append(event)
    assert RESYNC in drained


def test_events_go_out_after_commit_and_never_after_rollback(app):
    from chat.extensions import db

    with app.app_context():
        sub = get_broker(app).subscribe({"admins"})
        db.session.execute(db.text("select 1"))  # a transaction is under way
        events.publish_after_commit(db.session, "admins", Unread(1, 1))
        assert sub.get(0.05) is None  # not before the commit
        db.session.rollback()
        db.session.commit()
        assert sub.get(0.05) is None  # the rolled-back event is gone
        events.publish_after_commit(db.session, "admins", Unread(2, 1))
        db.session.commit()
        assert sub.get(0.5) == {
            "type": "unread",
            "id": None,
            "data": {"inquiry_id": 2, "product_id": 1},
        }
        get_broker(app).unsubscribe(sub)


@pytest.mark.redis
def test_many_first_streams_at_once_start_one_redis_listener():
    backends.require("redis")
    broker = RedisBroker(backends.REDIS_URL, prefix=f"chat-test-{uuid.uuid4().hex[:8]}:")
    # Other tests' apps in this process may still have listeners of their own.
    others = set(threading.enumerate())
    barrier = threading.Barrier(40)

    def first_stream():
        barrier.wait()
        broker.subscribe({"admins"})

    threads = [threading.Thread(target=first_stream) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    try:
        listeners = [
            t for t in threading.enumerate() if t.name == "chat-redis-listener" and t.is_alive() and t not in others
        ]
        assert len(listeners) == 1
        assert broker.connected.wait(5)
        # ... and that one listener delivers.
        sub = broker.subscribe({"customer:x"})
        broker.publish("customer:x", {"type": "message", "id": 7, "data": {}})
        assert sub.get(5) == {"type": "message", "id": 7, "data": {}}
    finally:
        broker.close()


def _prefix():
    return f"chat-test-{uuid.uuid4().hex[:8]}:"


def _redis():
    import redis

    return redis.Redis.from_url(backends.REDIS_URL)


def _numsub(client, name, sharded=False):
    if sharded:
        reply = client.execute_command("PUBSUB", "SHARDNUMSUB", name)  # [name, count]
        return dict(zip(reply[::2], reply[1::2])).get(name.encode(), 0)
    return dict(client.pubsub_numsub(name)).get(name.encode(), 0)


def _next(sub):
    """The next event that is not a resync (a worker's first connection, an outage's end)."""
    while (event := sub.get(5)) == RESYNC:
        pass
    return event


def _eventually(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


@pytest.mark.redis
def test_a_worker_receives_only_the_channels_its_streams_show():
    backends.require("redis")
    prefix = _prefix()
    worker_a, worker_b = RedisBroker(backends.REDIS_URL, prefix=prefix), RedisBroker(backends.REDIS_URL, prefix=prefix)
    try:
        shopper_a = worker_a.subscribe({"customer:a"})
        shopper_b = worker_b.subscribe({"customer:b"})
        for i in range(5):
            worker_b.publish("customer:a", {"type": "message", "id": i, "data": {}})
        assert [_next(shopper_a)["id"] for _ in range(5)] == [0, 1, 2, 3, 4]
        worker_a.publish("customer:b", {"type": "message", "id": 9, "data": {}})
        assert _next(shopper_b)["id"] == 9
        # Worker B read from Redis only the one event of its own shopper.
        assert worker_b.received == 1 and worker_a.received == 5
        assert worker_b.redis_channels() == {"customer:b"}
        channels = {c.decode() for c in _redis().pubsub_channels(prefix + "*")}
        assert channels == {prefix + "customer:a", prefix + "customer:b", prefix + RedisBroker.RESYNC_CHANNEL}
    finally:
        worker_a.close()
        worker_b.close()


@pytest.mark.redis
def test_a_channel_is_subscribed_once_for_many_streams_and_dropped_after_the_last():
    backends.require("redis")
    prefix = _prefix()
    broker = RedisBroker(backends.REDIS_URL, prefix=prefix)
    client = _redis()
    try:
        tabs = [broker.subscribe({"customer:x"}) for _ in range(3)]
        assert _numsub(client, prefix + "customer:x") == 1  # one connection, one subscription
        broker.publish("customer:x", {"type": "message", "id": 1, "data": {}})
        assert all(_next(tab)["id"] == 1 for tab in tabs)
        assert broker.received == 1  # read once, handed to the three tabs
        broker.unsubscribe(tabs[0])
        broker.unsubscribe(tabs[1])
        assert _numsub(client, prefix + "customer:x") == 1
        broker.unsubscribe(tabs[2])
        assert _eventually(lambda: _numsub(client, prefix + "customer:x") == 0)
        assert broker.redis_channels() == set()
        broker.publish("customer:x", {"type": "message", "id": 2, "data": {}})
        # A new stream of the channel subscribes again and gets what follows.
        again = broker.subscribe({"customer:x"})
        broker.publish("customer:x", {"type": "message", "id": 3, "data": {}})
        assert _next(again)["id"] == 3
    finally:
        broker.close()


@pytest.mark.redis
def test_after_a_redis_restart_every_channel_is_subscribed_again_and_streams_resync(tmp_path):
    backends.require("redis")
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start():
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _eventually(
            lambda: (
                subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG"
            )
        )
        return proc

    proc = start()
    broker = RedisBroker(f"redis://127.0.0.1:{port}/0", prefix=_prefix())
    try:
        x, y = broker.subscribe({"customer:x"}), broker.subscribe({"customer:y", "admins"})
        while x.get(0.3) or y.get(0.3):
            pass  # the first connection's resync
        proc.terminate()
        proc.wait(10)
        assert _eventually(lambda: not broker.connected.is_set())
        assert broker.publish("customer:x", {"type": "message", "id": 1, "data": {}}) is False
        proc = start()
        assert _eventually(lambda: broker.reconnects >= 1, timeout=15)
        assert x.get(5) == RESYNC and y.get(5) == RESYNC
        # The publisher skips publishing for a second after a failure: ask until it sends.
        assert _eventually(lambda: broker.publish("customer:x", {"type": "message", "id": 2, "data": {}}))
        assert broker.publish("admins", {"type": "inquiry", "id": None, "data": {}})
        assert broker.publish("customer:y", {"type": "message", "id": 3, "data": {}})
        assert _next(x)["id"] == 2
        assert {_next(y)["type"], _next(y)["type"]} == {"inquiry", "message"}
    finally:
        broker.close()
        proc.terminate()
        proc.wait(10)


@pytest.mark.redis
def test_sharded_pub_sub_delivers_by_shard_channel():
    backends.require("redis")
    prefix = _prefix()
    publisher, worker = (
        RedisBroker(backends.REDIS_URL, prefix=prefix, sharded=True),
        RedisBroker(backends.REDIS_URL, prefix=prefix, sharded=True),
    )
    client = _redis()
    try:
        sub = worker.subscribe({"customer:s", "admins"})
        assert _numsub(client, prefix + "customer:s", sharded=True) == 1
        assert _numsub(client, prefix + "customer:s") == 0  # not a classic subscription
        publisher.publish("customer:s", {"type": "message", "id": 5, "data": {}})
        assert _next(sub) == {"type": "message", "id": 5, "data": {}}
        worker.unsubscribe(sub)
        assert _eventually(lambda: _numsub(client, prefix + "customer:s", sharded=True) == 0)
    finally:
        publisher.close()
        worker.close()


def test_publishing_while_redis_is_down_warns_once_and_never_raises(caplog):
    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0", prefix=_prefix())
    with caplog.at_level("WARNING", logger="chat.live.broker"):
        results = [broker.publish("customer:x", {"type": "message", "id": i, "data": {}}) for i in range(20)]
    assert results == [False] * 20
    assert len([r for r in caplog.records if "cannot publish" in r.getMessage()]) == 1


@pytest.mark.redis
def test_a_busy_worker_holds_two_redis_connections():
    backends.require("redis")
    prefix = _prefix()
    broker = RedisBroker(backends.REDIS_URL, prefix=prefix)
    try:
        subs = [broker.subscribe({f"customer:{i}"}) for i in range(50)]
        notices = broker.subscribe({"admins:notices"})
        barrier = threading.Barrier(30)

        def commit(i):
            barrier.wait()
            broker.publish_many(
                [
                    (f"customer:{i}", {"type": "message", "id": i, "data": {}}),
                    ("admins:notices", {"type": "waiting", "id": None, "data": {}}),
                ]
            )

        threads = [threading.Thread(target=commit, args=(i,)) for i in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert all(_next(subs[i])["id"] == i for i in range(30))
        assert [_next(notices)["type"] for _ in range(30)] == ["waiting"] * 30
        names = [c["name"] for c in _redis().client_list() if c["name"].startswith(prefix)]
        assert sorted(names) == [prefix + "pub", prefix + "sub"]  # one subscriber, one publisher
    finally:
        broker.close()


def _resynced(sub):
    """Whether the next event of ``sub`` (within a second) tells it to replay."""
    return sub.get(1) == RESYNC


def _hiccup(dropping, proxy, channels):
    """``dropping`` (a worker reaching Redis through ``proxy``) fails to publish on
    ``channels`` while every other worker stays connected, then publishes again."""
    proxy.cut()
    for channel in channels:
        assert dropping.publish(channel, {"type": "message", "id": 1, "data": {}}) is False
    proxy.restore()
    # It skips publishing for a second after a failure: ask until it sends.
    assert _eventually(lambda: dropping.publish("customer:other", {"type": "probe"}), timeout=10)


@pytest.fixture
def two_workers():
    """Worker ``dropping`` reaches the shared Redis through a TCP proxy a test can cut;
    worker ``listening`` holds the streams, connected directly."""
    from urllib.parse import urlsplit

    from .tcp_proxy import TCPProxy

    backends.require("redis")
    url = urlsplit(backends.REDIS_URL)
    proxy = TCPProxy(url.hostname, url.port or 6379).start()
    prefix = _prefix()
    dropping = RedisBroker(f"redis://127.0.0.1:{proxy.port}/0", prefix=prefix)
    listening = RedisBroker(backends.REDIS_URL, prefix=prefix)
    try:
        yield dropping, listening, proxy
    finally:
        dropping.close()
        listening.close()
        proxy.cut()


@pytest.mark.redis
def test_a_workers_dropped_publish_resyncs_only_the_streams_of_its_channels(two_workers):
    """One worker's publish fails (its connection cut) while the others stay connected: the
    streams of that event's channel replay once it publishes again, and no other stream
    does. (It was every stream of every worker: at 10,000 streams, 10,000 replays at once.)"""
    dropping, listening, proxy = two_workers
    x, y = listening.subscribe({"customer:x"}), listening.subscribe({"customer:y"})
    while x.get(0.3) or y.get(0.3):
        pass  # the first connection's resync
    _hiccup(dropping, proxy, ["customer:x"])
    assert _resynced(x), "the stream whose event was dropped replays it"
    dropping.publish("customer:y", {"type": "message", "id": 2, "data": {}})
    assert not _resynced(y), "a stream whose events all went out does not replay"


@pytest.mark.redis
def test_a_publisher_that_dropped_events_of_many_channels_resyncs_every_stream(two_workers, monkeypatch):
    """Beyond DROPPED_CHANNELS_MAX channels it was an outage, not a hiccup: every stream replays."""
    dropping, listening, proxy = two_workers
    monkeypatch.setattr(RedisBroker, "DROPPED_CHANNELS_MAX", 2)
    y = listening.subscribe({"customer:y"})
    while y.get(0.3):
        pass
    _hiccup(dropping, proxy, ["customer:a", "customer:b", "customer:c"])
    assert _resynced(y)


def test_a_stream_takes_every_queued_event_in_order_and_keeps_a_resync():
    sub = Subscription({"admins"}, maxsize=3)
    for i in range(3):
        sub.deliver({"type": "unread", "id": i})
    assert [event["id"] for event in sub.queued()] == [0, 1, 2]
    assert sub.queued() == [] and sub.get(0) is None
    # A stalled stream's backlog is dropped for a RESYNC, which the next look must find.
    for i in range(4):
        sub.deliver({"type": "unread", "id": i})
    assert sub.queued() == [RESYNC]
