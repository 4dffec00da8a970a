"""The broker on Redis Cluster: sharded pub/sub, one subscriber connection per shard.

A channel lives in one hash slot, and a slot on one master: SPUBLISH reaches only
the subscribers of that master. So a worker keeps one SSUBSCRIBE connection per
master that serves a channel its streams need (none to a master it needs nothing
from), and publishes through redis-py's cluster client, which routes by slot.

When the cluster changes under us, a shard's connection fails (its master died),
answers an error (MOVED, CLUSTERDOWN: the slot is elsewhere or being failed
over) or Redis unsubscribes us (SUNSUBSCRIBE: the slot moved). Each time the
worker reads the slot map again, moves the channels to the masters that serve them
now, subscribes them there and, once Redis confirmed, tells the streams of those
channels to replay from the database (RESYNC): the stream's cursor sends what they
missed once, and nothing twice.
"""

import logging
import threading
import time
from urllib.parse import unquote, urlsplit

from .broker import RESYNC, RedisBroker

log = logging.getLogger(__name__)

SUBSCRIBE, UNSUBSCRIBE = "SSUBSCRIBE", "SUNSUBSCRIBE"


def cluster_nodes(url):
    """(username, password, [(host, port), ...]) from ``redis://[user:pass@]host:port[,host:port...]``:
    any node will do, several help when one of them is down at start-up."""
    parts = urlsplit(url)
    auth, _, hosts = parts.netloc.rpartition("@")
    username, _, password = auth.partition(":")
    nodes = []
    for host in hosts.split(","):
        name, sep, port = host.strip().rpartition(":")
        if not sep:
            name, port = port, ""
        nodes.append((name or "127.0.0.1", int(port) if port else 6379))
    return unquote(username) or None, unquote(password) or None, nodes


def limiter_uri(url):
    """The Flask-Limiter (``limits``) storage URI for the same cluster."""
    username, password, nodes = cluster_nodes(url)
    auth = f"{username or ''}:{password}@" if password else ""
    return "redis+cluster://" + auth + ",".join(f"{host}:{port}" for host, port in nodes)


def cluster_client(url, **options):
    """redis-py's cluster client that fails fast (one retry after a topology refresh),
    with at most one connection per master for publishing."""
    import redis
    from redis.backoff import NoBackoff
    from redis.cluster import ClusterNode, RedisCluster
    from redis.retry import Retry

    username, password, nodes = cluster_nodes(url)
    options.setdefault("socket_connect_timeout", 1)
    options.setdefault("socket_timeout", 2)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=username,
        password=password,
        retry=Retry(NoBackoff(), 1),
        connection_pool_class=redis.BlockingConnectionPool,
        **options,
    )


def reachable(url):
    """Whether a node of the cluster answers (one try, 1 s at most per node)."""
    import redis

    username, password, nodes = cluster_nodes(url)
    for host, port in nodes:
        try:
            client = redis.Redis(host=host, port=port, username=username, password=password, socket_timeout=1)
            with client:
                client.execute_command("CLUSTER", "MYID")
            return True
        except redis.RedisError:
            continue
    return False


class Shard:
    """One SSUBSCRIBE connection to one master, for the channels whose slots it serves.

    Its thread connects, subscribes its channels, reads, and on any trouble gives its
    channels back to the broker to be placed again (``ClusterBroker.rehome``)."""

    def __init__(self, broker, host, port):
        self.broker = broker
        self.host, self.port = host, port
        self.name = f"{host}:{port}"
        self.channels = set()  # the channels this shard should carry (without the prefix)
        self.conn = None  # while connected
        self.awaiting = {}  # channel -> SSUBSCRIBEs sent and not yet confirmed
        self.resync_pending = set()  # channels whose streams replay once Redis confirmed them
        self.connected = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"chat-redis-shard-{self.name}", daemon=True)

    def send(self, command, channels):
        """Under the broker's wire lock. One command per channel: channels of different
        slots cannot share one SSUBSCRIBE (CROSSSLOT)."""
        if self.conn is None or not channels:
            return
        try:
            for channel in channels:
                if command == SUBSCRIBE:
                    self.awaiting[channel] = self.awaiting.get(channel, 0) + 1
                self.conn.send_command(command, self.broker.prefix + channel)
        except Exception as exc:  # noqa: BLE001 - the reader notices and reconnects
            log.debug("sharded pub/sub %s on %s failed (%s)", command, self.name, exc)

    def stop(self):
        self.stopped.set()

    def _run(self):
        broker = self.broker
        backoff = 0.1
        while not self.stopped.is_set():
            conn = None
            try:
                conn = broker.connect_node(self.host, self.port)
                with broker._wire_lock:
                    if self.stopped.is_set():
                        return
                    self.awaiting = {}
                    self.conn = conn
                    channels = list(self.channels)
                    self.resync_pending.update(channels)
                    self.send(SUBSCRIBE, channels)
                self.connected.set()
                broker.update_connected()
                backoff = 0.1
                last_seen = last_ping = time.monotonic()
                while not self.stopped.is_set():
                    if conn.can_read(timeout=1.0):
                        # An error reply (MOVED, CLUSTERDOWN) raises: reconnect and place again.
                        broker.on_response(self, conn.read_response(push_request=True))
                        last_seen = time.monotonic()
                    now = time.monotonic()
                    if now - last_seen > 3 * broker.PING_SECONDS:
                        raise ConnectionError("sharded pub/sub connection silent")
                    if now - last_ping > broker.PING_SECONDS:
                        with broker._wire_lock:
                            conn.send_command("PING")
                        last_ping = now
            except Exception as exc:  # noqa: BLE001 - any failure: place the channels again
                if not self.stopped.is_set():
                    # Once per outage: while the node stays away, each retry only at debug level.
                    (log.warning if self.connected.is_set() else log.debug)(
                        "redis cluster shard %s: %s; placing its channels again", self.name, exc
                    )
            finally:
                with broker._wire_lock:
                    self.conn = None
                self.connected.clear()
                broker.update_connected()
                if conn is not None:
                    try:
                        conn.disconnect()
                    except Exception:  # noqa: BLE001
                        pass
            if self.stopped.is_set():
                return
            broker.rehome(self)
            self.stopped.wait(backoff)
            backoff = min(backoff * 2, 2.0)


class ClusterBroker(RedisBroker):
    """RedisBroker over Redis Cluster (``REDIS_CLUSTER=true``): always sharded pub/sub."""

    REFRESH_SECONDS = 0.25  # the slot map is read again at most this often

    def __init__(self, redis_url, prefix="chat:"):
        self._client_lock = threading.Lock()
        self._client_next_try = 0.0
        super().__init__(redis_url, prefix=prefix, sharded=True)
        self._username, self._password, self._seeds = cluster_nodes(redis_url)
        self._shards = {}  # node name -> Shard
        self._shard_of = {}  # channel -> Shard
        self._refresh_lock = threading.Lock()
        self._refreshed_at = 0.0
        self._map_failing = False
        self.moves = 0  # channels placed on another master after a failover or slot move

    def _publishing_client(self, redis_url, prefix):
        return None  # made on first use (``_redis``): the cluster may be down while the app starts

    @property
    def _redis(self):
        """redis-py's cluster client: publishes, and knows the slot map. Raises while no
        node answers (its callers treat that as Redis being down)."""
        with self._client_lock:
            if self._client is None:
                if time.monotonic() < self._client_next_try:
                    raise ConnectionError("Redis Cluster unreachable (tried less than a second ago)")
                try:
                    self._client = cluster_client(self.redis_url, max_connections=1, client_name=f"{self.prefix}pub")
                except Exception:
                    self._client_next_try = time.monotonic() + 1.0
                    raise
            return self._client

    @_redis.setter
    def _redis(self, client):
        self._client = client

    def connect_node(self, host, port):
        import redis

        # RESP2: pub/sub replies are plain arrays.
        conn = redis.Connection(
            host=host,
            port=port,
            username=self._username,
            password=self._password,
            socket_connect_timeout=1,
            socket_timeout=None,
            socket_keepalive=True,
            protocol=2,
            client_name=f"{self.prefix}sub",
        )
        conn.connect()
        return conn

    # -- placing channels on shards --------------------------------------
    def _ensure_listener(self):
        import os

        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid != os.getpid():
                # Threads do not survive fork: start over with this process's own shards.
                self._shards, self._shard_of, self._confirmed = {}, {}, {}
                self._pid = os.getpid()
                with self._wire_lock:
                    for channel in [*self.redis_channels(), self.RESYNC_CHANNEL]:
                        self._place(channel)

    def _shard_for(self, channel):
        """Under the wire lock: the shard of the master that serves ``channel`` now. With no
        slot map (no node answered yet) a seed node's: its failure or MOVED answer places
        the channel again once the map is known."""
        try:
            cluster = self._redis
            node = cluster.nodes_manager.get_node_from_slot(cluster.keyslot(self.prefix + channel))
            host, port = node.host, node.port
        except Exception:  # noqa: BLE001 - the cluster is unreachable or its slot not covered (mid-failover)
            host, port = self._seeds[0]
        name = f"{host}:{port}"
        shard = self._shards.get(name)
        if shard is None:
            shard = self._shards[name] = Shard(self, host, port)
            shard.thread.start()
        return shard

    def _place(self, channel):
        """Under the wire lock: subscribe ``channel`` on its master's shard; the Shard."""
        shard = self._shard_for(channel)
        shard.channels.add(channel)
        self._shard_of[channel] = shard
        shard.send(SUBSCRIBE, [channel])
        return shard

    def _refresh(self):
        with self._refresh_lock:
            if time.monotonic() - self._refreshed_at < self.REFRESH_SECONDS:
                return
            try:
                self._redis.nodes_manager.initialize()
                self._map_failing = False
            except Exception as exc:  # noqa: BLE001 - no node answers: try again on the next failure
                (log.debug if self._map_failing else log.warning)("redis cluster: cannot read the slot map (%s)", exc)
                self._map_failing = True
            self._refreshed_at = time.monotonic()

    def rehome(self, shard, lost=()):
        """``shard`` failed (or Redis dropped ``lost`` channels from it): read the slot map
        again and subscribe each of its channels where it is served now; their streams
        replay once subscribed."""
        self._refresh()
        with self._wire_lock:
            moved = 0
            for channel in list(shard.channels):
                target = self._shard_for(channel)
                if target is shard:
                    if channel in lost:
                        shard.resync_pending.add(channel)
                        shard.send(SUBSCRIBE, [channel])
                    continue
                shard.channels.discard(channel)
                target.channels.add(channel)
                target.resync_pending.add(channel)
                self._shard_of[channel] = target
                target.send(SUBSCRIBE, [channel])
                moved += 1
            self.moves += moved
            if not shard.channels:
                self._drop(shard)
        if moved:
            log.warning("redis cluster: %d channels moved from %s to their new masters", moved, shard.name)

    def _drop(self, shard):
        """Under the wire lock: a shard that carries no channel closes its connection."""
        shard.stop()
        shard.connected.clear()
        if self._shards.get(shard.name) is shard:
            del self._shards[shard.name]

    def shards(self):
        """The masters this process holds a subscriber connection to."""
        with self._wire_lock:
            return sorted(name for name, shard in self._shards.items() if shard.channels)

    # -- subscriptions ---------------------------------------------------
    def subscribe(self, channels, timeout=2.0):
        from .broker import Subscription

        self._ensure_listener()
        sub = Subscription(channels)
        with self._wire_lock:
            new = self._add(sub)
            with self._lock:
                waits = [self._confirmed.setdefault(channel, threading.Event()) for channel in sub.channels]
            for channel in new:
                self._place(channel)
        # Until Redis confirmed, an event could pass unseen: wait (a shard that is
        # connecting confirms when it is up; one that is down resyncs when it is back).
        deadline = time.monotonic() + timeout
        for confirmed in waits:
            if not confirmed.wait(max(0.0, deadline - time.monotonic())):
                break
        return sub

    def unsubscribe(self, sub):
        with self._wire_lock:
            gone = self._remove(sub)
            with self._lock:
                for channel in gone:
                    self._confirmed.pop(channel, None)
            for channel in gone:
                shard = self._shard_of.pop(channel, None)
                if shard is None:
                    continue
                shard.channels.discard(channel)
                shard.resync_pending.discard(channel)
                shard.send(UNSUBSCRIBE, [channel])
                if not shard.channels:
                    self._drop(shard)

    # -- what a shard reads ----------------------------------------------
    def on_response(self, shard, response):
        if not isinstance(response, list) or len(response) < 3:
            return  # PONG
        kind = response[0].decode() if isinstance(response[0], bytes) else response[0]
        if kind == "smessage":
            return self._on_response(response)  # RedisBroker's: resync or dispatch
        channel = response[1].decode() if isinstance(response[1], bytes) else response[1]
        channel = channel[len(self.prefix) :]
        if kind == "ssubscribe":
            with self._wire_lock:
                left = shard.awaiting.get(channel, 0) - 1
                if left > 0:
                    shard.awaiting[channel] = left
                    return
                shard.awaiting.pop(channel, None)
                resync = channel in shard.resync_pending and channel in shard.channels
                shard.resync_pending.discard(channel)
                with self._lock:
                    confirmed = self._confirmed.get(channel)
            if confirmed is not None:
                confirmed.set()
            if resync:
                self._resync(channel)
        elif kind == "sunsubscribe":
            with self._wire_lock:
                dropped = channel in shard.channels and not shard.awaiting.get(channel)
            if dropped:
                # Not ours: Redis dropped the channel (its slot moved to another master).
                self.rehome(shard, lost={channel})

    def _resync(self, channel):
        """The streams of ``channel`` replay from the database (it was not subscribed for a while)."""
        if channel == self.RESYNC_CHANNEL:
            # A publisher's "replay everything" may have gone by meanwhile.
            self.resync_all()
            return
        with self._lock:
            subs = list(self._by_channel.get(channel, ()))
        for sub in subs:
            sub.deliver(RESYNC)

    def update_connected(self):
        """``connected`` is set while every shard with channels is connected."""
        with self._wire_lock:
            shards = [shard for shard in self._shards.values() if shard.channels]
        if shards and all(shard.connected.is_set() for shard in shards):
            self.connected.set()
        else:
            self.connected.clear()

    def close(self):
        self._stopped.set()
        with self._wire_lock:
            for shard in list(self._shards.values()):
                self._drop(shard)
