"""The per-process broker and the after-commit publishing."""
import threading
import uuid

import pytest

from chat.live import broker as get_broker
from chat.live import events
from chat.live.broker import RESYNC, LocalBroker, RedisBroker

from . import backends


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
    for i in range(sub.queue.maxsize + 5):
        broker.publish("c", {"type": "message", "id": i})
    assert sub.queue.qsize() <= sub.queue.maxsize
    drained = []
    while (event := sub.get(0.01)) is not None:
        drained.append(event)
    assert RESYNC in drained


def test_events_go_out_after_commit_and_never_after_rollback(app):
    from chat.extensions import db

    with app.app_context():
        sub = get_broker(app).subscribe({"admins"})
        db.session.execute(db.text("select 1"))  # a transaction is under way
        events.publish_after_commit(db.session, "admins", "inquiry", {"n": 1})
        assert sub.get(0.05) is None  # not before the commit
        db.session.rollback()
        db.session.commit()
        assert sub.get(0.05) is None  # the rolled-back event is gone
        events.publish_after_commit(db.session, "admins", "inquiry", {"n": 2})
        db.session.commit()
        assert sub.get(0.5) == {"type": "inquiry", "id": None, "data": {"n": 2}}
        get_broker(app).unsubscribe(sub)


@pytest.mark.redis
def test_many_first_streams_at_once_start_one_redis_listener():
    backends.require("redis")
    broker = RedisBroker(backends.REDIS_URL, prefix=f"chat-test-{uuid.uuid4().hex[:8]}:")
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
        listeners = [t for t in threading.enumerate() if t.name == "chat-redis-listener" and t.is_alive()]
        assert len(listeners) == 1
        assert broker.connected.wait(5)
        # ... and that one listener delivers.
        sub = broker.subscribe({"customer:x"})
        broker.publish("customer:x", {"type": "message", "id": 7, "data": {}})
        assert sub.get(5) == {"type": "message", "id": 7, "data": {}}
    finally:
        broker.close()
