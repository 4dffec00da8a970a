"""Fan-out of live events inside one process, fed by Redis or by itself.

Every SSE stream of a worker process registers a Subscription (a queue) here.
With Redis, ONE pub/sub connection per process (pattern-subscribed to our
prefix) feeds all of them; without Redis the in-process broker hands events
straight to the queues. Events are small dicts ({"type", "id", "data"}, the
flask-sse Message shape); streams load what they show from the database.

queue.Queue and threading are cooperative under gevent's monkey patching, so
the same code serves gevent workers and plain threads.
"""
import json
import logging
import os
import queue
import threading
import time

log = logging.getLogger(__name__)


def redis_client(url, **options):
    """A client that fails fast: redis-py retries with backoff by default, which
    would hold a request (or the listener) for seconds while Redis is down."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options.setdefault("socket_connect_timeout", 1)
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)


def publishing_client(url):
    """One shared client for publishing: a blocking pool waits for a free
    connection instead of failing when many greenlets publish at once."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = redis.BlockingConnectionPool.from_url(url, max_connections=50, timeout=2, socket_timeout=2,
                                                 socket_connect_timeout=1)
    return redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))

RESYNC = {"type": "resync"}  # "you may have missed events: reload from the database"
END = {"type": "end"}  # the server stops: end the stream cleanly, the client reconnects elsewhere


class Subscription:
    def __init__(self, channels, maxsize=1000):
        self.channels = frozenset(channels)
        self.queue = queue.Queue(maxsize=maxsize)

    def deliver(self, event):
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            # A stalled client: drop the backlog, let it reload from the DB.
            self._drain()
            self.queue.put_nowait(RESYNC)

    def _drain(self):
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass

    def get(self, timeout):
        """The next event, or None after ``timeout`` seconds."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


class LocalBroker:
    """In-process broker: one process, no Redis."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_channel = {}
        self.stopping = False  # the process is shutting down: streams end, new ones too

    # -- subscriptions ---------------------------------------------------
    def subscribe(self, channels):
        sub = Subscription(channels)
        with self._lock:
            for channel in sub.channels:
                self._by_channel.setdefault(channel, set()).add(sub)
        return sub

    def unsubscribe(self, sub):
        with self._lock:
            for channel in sub.channels:
                subs = self._by_channel.get(channel)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_channel[channel]

    def subscription_count(self):
        with self._lock:
            return len({sub for subs in self._by_channel.values() for sub in subs})

    def dispatch(self, channel, event):
        with self._lock:
            subs = list(self._by_channel.get(channel, ()))
        for sub in subs:
            sub.deliver(event)

    def resync_all(self):
        self._tell_all(RESYNC)

    def end_all(self):
        """Every stream of this process ends now (a graceful stop: see gunicorn.conf.py)."""
        self.stopping = True
        self._tell_all(END)

    def _tell_all(self, event):
        with self._lock:
            subs = {sub for subs in self._by_channel.values() for sub in subs}
        for sub in subs:
            sub.deliver(event)

    # -- publishing ------------------------------------------------------
    def publish(self, channel, event):
        self.dispatch(channel, event)

    def close(self):
        pass


class RedisBroker(LocalBroker):
    """One Redis pub/sub connection per process feeds every local subscription."""

    def __init__(self, redis_url, prefix="chat:", publisher=None):
        super().__init__()
        self.redis_url = redis_url
        self.prefix = prefix
        # Without flask-sse's publish call (tests, scripts) publish directly.
        self._redis = None if publisher else publishing_client(redis_url)
        self._publisher = publisher
        self._pid = None
        self._thread = None
        self._start_lock = threading.Lock()
        self._stopped = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0

    def _ensure_listener(self):
        # Started lazily, and again after a fork: threads do not survive fork.
        # The lock matters under gevent: Thread.start() yields, and the next
        # stream would otherwise start a second listener (and connection).
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._stopped.clear()
                self._thread = threading.Thread(target=self._listen, name="chat-redis-listener", daemon=True)
                self._thread.start()

    def subscribe(self, channels):
        self._ensure_listener()
        sub = super().subscribe(channels)
        # Usually the pattern subscription is live already; on a cold start give
        # it a moment. Either way nothing is lost: every (re)connect resyncs.
        self.connected.wait(2)
        return sub

    def publish(self, channel, event):
        if self._publisher is not None:
            # flask-sse's publish call: same JSON shape on the wire.
            self._publisher(event, self.prefix + channel)
        else:
            self._redis.publish(self.prefix + channel, json.dumps(event))

    def _listen(self):
        backoff = 0.2
        first = True
        while not self._stopped.is_set():
            pubsub = None
            try:
                client = redis_client(self.redis_url, socket_timeout=None)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe(self.prefix + "*")
                # Wait for the subscription to be confirmed before saying "connected".
                pubsub.get_message(timeout=3)
                self.connected.set()
                if not first:
                    self.reconnects += 1
                    log.warning("redis pub/sub reconnected; streams resync from the database")
                first = False
                # Anything published before we listened is in the database.
                self.resync_all()
                backoff = 0.2
                last_ping = time.monotonic()
                quick_nothing = 0
                while not self._stopped.is_set():
                    started = time.monotonic()
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "pmessage":
                        self._on_message(message)
                    # redis-py answers None at once when its connection is gone;
                    # looping on that would never yield to gevent's hub.
                    quick_nothing = quick_nothing + 1 if (
                        message is None and time.monotonic() - started < 0.5) else 0
                    if quick_nothing >= 3:
                        raise ConnectionError("redis pub/sub connection lost")
                    if time.monotonic() - last_ping > 10:
                        pubsub.ping()  # finds a silently dead connection
                        last_ping = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                if self.connected.is_set():
                    log.warning("redis pub/sub lost (%s); reconnecting", exc)
                self.connected.clear()
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001
                        pass

    def _on_message(self, message):
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        try:
            event = json.loads(message["data"])
        except (ValueError, TypeError):
            log.warning("ignoring malformed live event on %s", channel)
            return
        self.dispatch(channel[len(self.prefix):], event)

    def close(self):
        self._stopped.set()
