"""Fan-out of live events inside one process, fed by Redis or by itself.

Every SSE stream of a worker process registers a Subscription (a queue) here.
With Redis, ONE pub/sub connection per process feeds all of them, subscribed
to exactly the channels this process's streams need (refcounted: SUBSCRIBE on
a channel's first local stream, UNSUBSCRIBE after its last), so a worker reads
only events it delivers; without Redis the in-process broker hands events
straight to the queues. Events are small dicts ({"type", "id", "data"}, the
flask-sse Message shape); streams load what they show from the database.

threading.Event is cooperative under gevent's monkey patching, so
the same code serves gevent workers and plain threads.
"""

import json
import logging
import os
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


def publishing_client(url, max_connections=1, client_name=None):
    """One shared client for publishing. One connection is plenty: a commit's
    events go out in one pipelined round trip, and the blocking pool makes
    other greenlets wait their turn (briefly) instead of opening more
    connections that would stay open: 2 Redis connections per worker, always."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2,
        socket_timeout=2,
        socket_connect_timeout=1,
        client_name=client_name,
    )
    return redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))


RESYNC = {"type": "resync"}  # "you may have missed events: reload from the database"
END = {"type": "end"}  # the server stops: end the stream cleanly, the client reconnects elsewhere


class Subscription:
    """One stream's inbox: a list and an Event (under gevent a gevent Event), much
    lighter than a queue.Queue with its lock and three conditions; an idle worker
    holds thousands of these. A list, not a deque: an empty deque holds a block of 64
    slots (about 0.7 KB a stream), and an inbox holds an event or two at a time."""

    __slots__ = ("channels", "maxsize", "_items", "_ready", "_beat")

    def __init__(self, channels, maxsize=1000):
        self.channels = frozenset(channels)
        self.maxsize = maxsize
        self._items = []
        self._ready = threading.Event()
        self._beat = False

    def __len__(self):
        return len(self._items)

    def deliver(self, event):
        if len(self._items) >= self.maxsize:
            # A stalled client: drop the backlog, let it reload from the DB.
            self._items.clear()
            event = RESYNC
        self._items.append(event)
        self._ready.set()

    def beat(self):
        """A heartbeat is due (from beats.Ticker): ``next`` returns None once."""
        self._beat = True
        self._ready.set()

    def next(self):
        """The next event, or None when a heartbeat is due. Waits without a timeout:
        a timed wait costs gevent a Timeout and a timer each time (see beats)."""
        while True:
            try:
                return self._items.pop(0)
            except IndexError:
                pass
            if self._beat:
                self._beat = False
                return None
            self._ready.clear()
            if not (self._items or self._beat):
                self._ready.wait()

    def queued(self):
        """Every event queued now, oldest first, without waiting (maybe none). One at a
        time, as ``get`` takes them: a ``deliver`` from another thread meanwhile (a new
        event, or the backlog dropped for RESYNC) is never lost between two steps."""
        items, taken = self._items, []
        try:
            while True:
                taken.append(items.pop(0))
        except IndexError:
            return taken

    def get(self, timeout):
        """The next event, or None after ``timeout`` seconds."""
        while True:
            try:
                return self._items.pop(0)
            except IndexError:
                pass
            # Clear, then look again: a deliver() in between has set the Event anew.
            self._ready.clear()
            if self._items:
                continue
            if timeout <= 0:
                return None  # a look, not a wait: no timer, no trip through the hub
            if not self._ready.wait(timeout):
                try:
                    return self._items.pop(0)
                except IndexError:
                    return None
            timeout = 0  # woken: take what came, do not wait a second time


class LocalBroker:
    """In-process broker: one process, no Redis."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_channel = {}
        self.stopping = False  # the process is shutting down: streams end, new ones too

    # -- subscriptions ---------------------------------------------------
    def subscribe(self, channels):
        sub = Subscription(channels)
        self._add(sub)
        return sub

    def unsubscribe(self, sub):
        self._remove(sub)

    def _add(self, sub):
        """Register ``sub``; returns the channels it is the first subscriber of."""
        first = []
        with self._lock:
            for channel in sub.channels:
                subs = self._by_channel.setdefault(channel, set())
                if not subs:
                    first.append(channel)
                subs.add(sub)
        return first

    def _remove(self, sub):
        """Forget ``sub``; returns the channels nobody in this process listens to any more."""
        gone = []
        with self._lock:
            for channel in sub.channels:
                subs = self._by_channel.get(channel)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_channel[channel]
                        gone.append(channel)
        return gone

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
        return True

    def publish_many(self, pending):
        """[(channel, event), ...] in order (one commit's events)."""
        for channel, event in pending:
            self.publish(channel, event)
        return True

    def close(self):
        pass


class RedisBroker(LocalBroker):
    """One Redis pub/sub connection per process feeds every local subscription.

    The connection carries one SUBSCRIBE per channel some local stream shows
    (SSUBSCRIBE with ``sharded=True``: Redis 7 sharded pub/sub, which Redis
    Cluster routes by the channel's slot). A stream's ``subscribe`` returns once
    Redis confirmed its channels, so the stream's database replay that follows
    cannot miss an event published in between. Publishing uses a separate
    one-connection pool: 2 Redis connections per worker.
    """

    PING_SECONDS = 10
    # Every listener subscribes to this channel too: a publisher that dropped the
    # events of more than DROPPED_CHANNELS_MAX channels (an outage) sends RESYNC here
    # once Redis answers again, so every stream of every worker replays.
    RESYNC_CHANNEL = "live:resync"
    # A publisher that dropped events tells only the streams of their channels to replay
    # (RESYNC on each) once it publishes again: a hiccup of one worker must not make every
    # stream of every worker read the database at once (docs/benchmarks.md, "The resync
    # storm"). Beyond this many channels it was an outage: RESYNC_CHANNEL, every stream.
    DROPPED_CHANNELS_MAX = 200

    def __init__(self, redis_url, prefix="chat:", sharded=False):
        super().__init__()
        self.redis_url = redis_url
        self.prefix = prefix
        self.sharded = sharded
        self._subscribe_cmd, self._unsubscribe_cmd, self._publish_cmd = (
            ("SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH") if sharded else ("SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH")
        )
        # Named connections: CLIENT LIST shows what each worker holds.
        self._redis = self._publishing_client(redis_url, prefix)
        self._pid = None
        self._thread = None
        self._start_lock = threading.Lock()
        self._stopped = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0
        self.received = 0  # events read from Redis by this process (tests, benchmarks)
        # Wire state, changed only under _wire_lock so that the order of
        # (UN)SUBSCRIBE commands on the socket follows the refcount decisions.
        self._wire_lock = threading.Lock()
        self._conn = None  # the pub/sub connection while it is up
        self._awaiting = {}  # channel -> subscribe commands sent and not yet confirmed
        self._confirmed = {}  # channel -> Event set when all its subscribes are confirmed
        self._resync_after = None  # channels to confirm after a (re)connect, then resync
        # Publishing: one warning per outage, and while Redis is down at most one
        # attempt a second (the others are skipped: streams replay from the DB).
        self._publish_down_since = None
        self._publish_next_try = 0.0
        self.publish_failures = 0
        self._dropped_lock = threading.Lock()
        self._dropped = set()  # channels whose events were not published since the last success
        self._dropped_all = False  # more than DROPPED_CHANNELS_MAX: resync every stream
        self._drop_count = 0

    def _publishing_client(self, redis_url, prefix):
        return publishing_client(redis_url, client_name=f"{prefix}pub")

    # -- subscriptions ---------------------------------------------------
    def _ensure_listener(self):
        # Started lazily, and again after a fork: threads do not survive fork.
        # The lock matters under gevent: Thread.start() yields, and the next
        # stream would otherwise start a second listener (and connection).
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                if self._pid != os.getpid():
                    self._reset_after_fork()
                self._pid = os.getpid()
                self._stopped.clear()
                self._thread = threading.Thread(target=self._listen, name="chat-redis-listener", daemon=True)
                self._thread.start()

    def _reset_after_fork(self):
        self._conn = None
        self._awaiting = {}
        self._confirmed = {}
        self.connected.clear()

    def subscribe(self, channels, timeout=2.0):
        self._ensure_listener()
        if self._conn is None:
            # A cold start: give the listener a moment to connect. Either way
            # nothing is lost: every (re)connect resyncs every stream.
            self.connected.wait(timeout)
        sub = Subscription(channels)
        with self._wire_lock:
            new = self._add(sub)
            with self._lock:
                waits = [self._confirmed.setdefault(channel, threading.Event()) for channel in sub.channels]
            if new:
                self._send_subscribe(new)
            if self._conn is None:
                return sub  # Redis is down: no confirmation will come; the reconnect resyncs
        deadline = time.monotonic() + timeout
        for confirmed in waits:
            if not confirmed.wait(max(0.0, deadline - time.monotonic())):
                break  # Redis is slow or down: the reconnect will resync this stream
        return sub

    def unsubscribe(self, sub):
        # Under the wire lock, so that a SUBSCRIBE of the same channel cannot slip between.
        with self._wire_lock:
            gone = self._remove(sub)
            with self._lock:
                for channel in gone:
                    self._confirmed.pop(channel, None)
            if gone and self._conn is not None:
                self._send(self._unsubscribe_cmd, gone)

    def redis_channels(self):
        """The channels this process is subscribed to in Redis (without the prefix)."""
        with self._lock:
            return set(self._by_channel)

    def _send_subscribe(self, channels):
        """Under _wire_lock: SUBSCRIBE (or SSUBSCRIBE) ``channels`` if connected; if not,
        the listener subscribes everything in _by_channel when it connects."""
        if self._conn is None:
            return
        with self._lock:
            for channel in channels:
                self._awaiting[channel] = self._awaiting.get(channel, 0) + 1
        self._send(self._subscribe_cmd, channels)

    def _send(self, command, channels):
        # One command per channel in sharded mode: a cluster refuses channels of
        # different slots in one SSUBSCRIBE (CROSSSLOT).
        groups = [[c] for c in channels] if self.sharded else [channels]
        try:
            for group in groups:
                self._conn.send_command(command, *(self.prefix + c for c in group))
        except Exception as exc:  # noqa: BLE001 - the listener notices and reconnects
            log.debug("pub/sub %s failed (%s)", command, exc)

    # -- publishing ------------------------------------------------------
    def publish(self, channel, event):
        return self.publish_many([(channel, event)])

    def publish_many(self, pending):
        """Publish with our pool, in one round trip; never raises. False if the events
        were not sent (Redis down): the rows are committed and streams replay from
        the database."""
        now = time.monotonic()
        # The subscriber connected again is a sign Redis is back: try at once.
        if self._publish_down_since is not None and now < self._publish_next_try and not self.connected.is_set():
            self._note_dropped(pending)
            return False
        try:
            self._send_events(pending)
        except Exception as exc:  # noqa: BLE001 - Redis down: liveness suffers, data does not
            self._note_dropped(pending)
            self._publish_next_try = now + 1.0
            if self._publish_down_since is None:
                self._publish_down_since = now
                log.warning(
                    "cannot publish live events to Redis (%s); streams will replay from the "
                    "database; logged once until Redis answers again",
                    exc,
                )
            return False
        if self._publish_down_since is not None:
            self._resync_dropped(now)
        return True

    def _send_events(self, pending):
        """[(channel, event), ...] to Redis in one round trip (raises if Redis does not take them)."""
        if len(pending) == 1:
            channel, event = pending[0]
            self._redis.execute_command(self._publish_cmd, self.prefix + channel, json.dumps(event))
            return
        pipe = self._redis.pipeline(transaction=False)
        for channel, event in pending:
            pipe.execute_command(self._publish_cmd, self.prefix + channel, json.dumps(event))
        pipe.execute()

    def _note_dropped(self, pending):
        """``pending`` was not published: remember its channels for ``_resync_dropped``."""
        with self._dropped_lock:
            self.publish_failures += len(pending)
            self._drop_count += 1
            if not self._dropped_all:
                self._dropped.update(channel for channel, _ in pending)
                if len(self._dropped) > self.DROPPED_CHANNELS_MAX:
                    self._dropped_all, self._dropped = True, set()

    def _resync_dropped(self, now):
        """Publishing works again: the streams of the channels whose events were dropped
        replay them from the database (subscribers may have stayed connected meanwhile)."""
        with self._dropped_lock:
            since, drops = self._publish_down_since, self._drop_count
            targets = [self.RESYNC_CHANNEL] if self._dropped_all else sorted(self._dropped)
        if since is None or not targets:
            self._publish_down_since = None
            return
        try:
            self._send_events([(channel, RESYNC) for channel in targets])
        except Exception:  # noqa: BLE001 - not yet (on a cluster, its shard may be failing over): next publish
            return
        log.warning(
            "publishing live events to Redis works again after %.1f s; %s resync",
            now - since,
            "all streams" if targets == [self.RESYNC_CHANNEL] else f"the streams of {len(targets)} channel(s)",
        )
        with self._dropped_lock:
            # Anything dropped while the resync went out: the next success resyncs again.
            if self._drop_count == drops:
                self._dropped, self._dropped_all, self._publish_down_since = set(), False, None

    # -- the listener ----------------------------------------------------
    def _connect(self):
        # RESP2: pub/sub replies are plain arrays (RESP3 would hand them to a push handler).
        client = redis_client(
            self.redis_url, socket_timeout=None, socket_keepalive=True, protocol=2, client_name=f"{self.prefix}sub"
        )
        conn = client.connection_pool.make_connection()
        conn.connect()
        return conn

    def _listen(self):
        backoff = 0.2
        first = True
        while not self._stopped.is_set():
            conn = None
            try:
                conn = self._connect()
                with self._wire_lock:
                    with self._lock:
                        channels = list(self._by_channel) + [self.RESYNC_CHANNEL]
                        self._awaiting = {}
                        self._resync_after = set(channels)
                    self._conn = conn
                    self._send_subscribe(channels)
                self.connected.set()
                if not first:
                    self.reconnects += 1
                    log.warning("redis pub/sub reconnected; streams resync from the database")
                first = False
                backoff = 0.2
                last_seen = last_ping = time.monotonic()
                while not self._stopped.is_set():
                    if conn.can_read(timeout=1.0):
                        self._on_response(conn.read_response(push_request=True))
                        last_seen = time.monotonic()
                    now = time.monotonic()
                    if now - last_seen > 3 * self.PING_SECONDS:
                        raise ConnectionError("redis pub/sub connection silent")
                    if now - last_ping > self.PING_SECONDS:
                        with self._wire_lock:
                            conn.send_command("PING")  # finds a silently dead connection
                        last_ping = now
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                if self.connected.is_set():
                    log.warning("redis pub/sub lost (%s); reconnecting", exc)
                self.connected.clear()
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with self._wire_lock:
                    self._conn = None
                if conn is not None:
                    try:
                        conn.disconnect()
                    except Exception:  # noqa: BLE001
                        pass

    def _on_response(self, response):
        if not isinstance(response, list) or len(response) < 3:
            return  # PONG
        kind = response[0].decode() if isinstance(response[0], bytes) else response[0]
        channel = response[1].decode() if isinstance(response[1], bytes) else response[1]
        channel = channel[len(self.prefix) :]
        if kind in ("message", "smessage") and channel == self.RESYNC_CHANNEL:
            self.resync_all()
        elif kind in ("message", "smessage"):
            self.received += 1
            try:
                event = json.loads(response[2])
            except (ValueError, TypeError):
                log.warning("ignoring malformed live event on %s", channel)
                return
            self.dispatch(channel, event)
        elif kind in ("subscribe", "ssubscribe"):
            with self._lock:
                left = self._awaiting.get(channel, 0) - 1
                if left > 0:
                    self._awaiting[channel] = left
                    return
                self._awaiting.pop(channel, None)
                confirmed = self._confirmed.get(channel)
                resync = self._resync_after
                if resync is not None:
                    resync.discard(channel)
            if confirmed is not None:
                confirmed.set()
            if resync is not None and not resync:
                self._resynced()

    def _resynced(self):
        """Every channel is subscribed again: anything published meanwhile is in the database."""
        with self._lock:
            self._resync_after = None
        self.resync_all()

    def close(self):
        self._stopped.set()
