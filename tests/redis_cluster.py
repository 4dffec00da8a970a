"""A Redis Cluster of our own: 3 masters and 3 replicas on spare ports, in a temp dir.

For tests and benches that need a real cluster (sharded pub/sub across shards, a
master killed and its replica promoted). Never touches the shared Redis on 6379.
``cluster-node-timeout`` is small so a failover completes in about a second.
"""

import shutil
import subprocess
import tempfile
import time

import redis

from .live_server import free_port

NODE_TIMEOUT_MS = 1000


def cluster_support():
    """None if redis-server and redis-cli can build a cluster here, else why not."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return "redis-server or redis-cli is not installed"
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    try:
        major = int(version.split("v=")[1].split(".")[0])
    except (IndexError, ValueError):
        return f"cannot read the redis-server version from {version!r}"
    if major < 7:
        return f"redis-server {major}.x has no sharded pub/sub (7.0 or later needed)"
    return None


class RedisCluster:
    def __init__(self, masters=3, replicas_per_master=1):
        self.size = masters * (1 + replicas_per_master)
        self.replicas = replicas_per_master
        self.ports = []
        self.processes = {}  # port -> Popen
        self.dir = None

    @property
    def url(self):
        """One node's URL: the client learns the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def _start_node(self, port):
        node_dir = f"{self.dir}/{port}"
        self.processes[port] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"{node_dir}/nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                # A replica takes over however long it was cut off from its master.
                "--cluster-replica-validity-factor",
                "0",
                "--dir",
                node_dir,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="chat-redis-cluster-")
        try:
            self.ports = []
            while len(self.ports) < self.size:
                port = free_port()
                # The cluster bus listens on port + 10000: that one must be free too.
                if port not in self.ports and port + 10000 < 65536:
                    self.ports.append(port)
            for port in self.ports:
                subprocess.run(["mkdir", "-p", f"{self.dir}/{port}"], check=True)
                self._start_node(port)
            for port in self.ports:
                self._wait_answers(port)
            subprocess.run(
                ["redis-cli", "--cluster", "create"]
                + [f"127.0.0.1:{port}" for port in self.ports]
                + ["--cluster-replicas", str(self.replicas), "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.wait_ok()
            self._wait_replicas_synced()
            return self
        except BaseException:
            self.stop()
            raise

    def _wait_answers(self, port, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server (cluster node) did not answer on port {port}")

    def _wait_replicas_synced(self, timeout=30):
        """Every replica has its master's data: a master killed now has a replica to take over."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                infos = [self.node(port).info("replication") for port in self.alive()]
                replicas = [info for info in infos if info.get("role") == "slave"]
                if len(replicas) == self.size - self.size // (1 + self.replicas) and all(
                    info.get("master_link_status") == "up" for info in replicas
                ):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the cluster's replicas did not sync with their masters")

    def node(self, port):
        return redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=2)

    def alive(self):
        return [port for port, process in self.processes.items() if process.poll() is None]

    def wait_ok(self, timeout=30):
        """Every live node says cluster_state:ok and sees every slot served."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(self.node(port).cluster("info").get("cluster_state") == "ok" for port in self.alive()):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")

    def masters(self):
        """Ports of the live masters that serve slots."""
        masters = []
        for port in self.alive():
            info = self.node(port).execute_command("ROLE")
            if info[0] in (b"master", "master"):
                masters.append(port)
        return masters

    def master_of(self, key):
        """The port of the master that serves ``key``'s slot now."""
        client = self.node(self.alive()[0])
        slot = client.execute_command("CLUSTER", "KEYSLOT", key)
        for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return int(master[1])
        raise RuntimeError(f"no master serves slot {slot}")

    def kill(self, port):
        """The node dies at once (SIGKILL), as in a crash."""
        process = self.processes[port]
        process.kill()
        process.wait()

    def wait_promoted(self, dead_port, timeout=30):
        """A replica took over the dead master's slots: the cluster is ok again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                client = self.node(self.alive()[0])
                slots = client.execute_command("CLUSTER", "SLOTS")
                if all(int(master[1]) != dead_port for _, _, master, *_ in slots):
                    self.wait_ok(timeout=max(1.0, deadline - time.monotonic()))
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"no replica took over from the master on port {dead_port}")

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        self.processes = {}
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def move_slot(cluster, key):
    """Move ``key``'s (empty) slot to another master, as `redis-cli --cluster reshard` would;
    returns the new master's port."""
    source = cluster.master_of(key)
    slot = cluster.node(source).execute_command("CLUSTER", "KEYSLOT", key)
    target = next(port for port in cluster.masters() if port != source)
    ids = {port: cluster.node(port).execute_command("CLUSTER", "MYID") for port in (source, target)}
    ids = {port: value.decode() if isinstance(value, bytes) else value for port, value in ids.items()}
    cluster.node(target).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    cluster.node(source).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    for port in (target, source):
        cluster.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target])
    return target
