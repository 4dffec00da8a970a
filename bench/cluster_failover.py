"""Live delivery on a real Redis Cluster while a master dies: lost, duplicated, how late.

    .venv/bin/python bench/cluster_failover.py
    .venv/bin/python bench/cluster_failover.py --shoppers 50 --rate 20 --seconds 30

A benchmark, not a test: it prints figures and never passes or fails.

It starts its own cluster (tests/redis_cluster.py: 3 masters, 3 replicas on spare
ports, cluster-node-timeout 1 s) and two app servers (gunicorn, 1 gevent worker
each, REDIS_CLUSTER=true) sharing a fresh MariaDB database. Shoppers write and the
shop answers through server A, ``--rate`` messages a second round-robin; each
shopper's stream is open on server B. A third of the way in, the master that
serves the most shoppers' channels is killed (SIGKILL); a replica takes over.
Every message's send-to-receipt time (from before the POST to its event on the
stream) is reported before the kill, from the kill until the replica took over
plus 2 s, and after; then what each stream lost or got twice (checked against the
database).
"""

import argparse
import os
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import requests  # noqa: E402

from tests import backends  # noqa: E402
from tests.live_server import LiveServer, demo_admin_token, prepared_env  # noqa: E402
from tests.redis_cluster import RedisCluster, cluster_support  # noqa: E402
from tests.sse_client import SSEClient, message_ids  # noqa: E402


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(0, -(-pct * len(ordered) // 100) - 1)] if ordered else None


class Shopper:
    def __init__(self, a, b, index, admin_auth):
        self.a, self.b, self.admin_auth = a, b, admin_auth
        first = self._post(None, f"shopper {index} asks")
        self.token, self.inquiry_id, self.first_id = (
            first.headers["X-Chat-Session"],
            first.json()["inquiry_id"],
            first.json()["id"],
        )
        ticket = requests.post(
            f"{b.url}/embed/demo/stream-ticket", headers={"X-Chat-Session": self.token}, timeout=10
        ).json()["ticket"]
        self.stream = SSEClient(f"{b.url}/embed/demo/stream?product=1&after={self.first_id}&ticket={ticket}")
        self.stream.collect(lambda got: got and got[-1].type == "ready")
        self.events = []

    def _post(self, token, text):
        response = requests.post(
            f"{self.a.url}/api/products/1/messages",
            headers={"X-Chat-Session": token} if token else {},
            json={"message_text": text, "client_message_id": str(uuid.uuid4())},
            timeout=10,
        )
        response.raise_for_status()
        return response

    def write(self, n):
        """One message (the shopper's or the shop's answer); its id."""
        if n % 2:
            return self._post(self.token, f"follow-up {n}").json()["id"]
        response = requests.post(
            f"{self.a.url}/api/admin/inquiries/{self.inquiry_id}/respond",
            headers=self.admin_auth,
            json={"message_text": f"answer {n}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["id"]

    def drain(self):
        while not self.stream.events.empty():
            self.events.append(self.stream.events.get())

    def stored_ids(self):
        body = requests.get(
            f"{self.a.url}/api/products/1/messages?limit=100", headers={"X-Chat-Session": self.token}, timeout=10
        ).json()
        return [m["id"] for m in body["messages"] if m["id"] > self.first_id]


def run(args, cluster, a, b):
    admin_auth = a.admin_auth
    shoppers = [Shopper(a, b, i, admin_auth) for i in range(args.shoppers)]
    prefix = a.env["LIVE_CHANNEL_PREFIX"]
    sessions = backends.session_ids(a.database, [s.inquiry_id for s in shoppers])
    by_master = {}
    for shopper in shoppers:
        by_master.setdefault(cluster.master_of(f"{prefix}customer:{sessions[shopper.inquiry_id]}"), []).append(shopper)
    victim = max(by_master, key=lambda port: len(by_master[port]))
    print(
        f"# {args.shoppers} streams on B over masters {sorted(by_master)}; killing {victim} "
        f"({len(by_master[victim])} streams' channels) at {args.seconds / 3:.0f} s",
        flush=True,
    )

    sent = {}  # message id -> (shopper, send time)
    failures = []
    timeline = {}

    def killer():
        time.sleep(args.seconds / 3)
        timeline["kill"] = time.monotonic()
        cluster.kill(victim)
        cluster.wait_promoted(victim)
        timeline["promoted"] = time.monotonic()

    thread = threading.Thread(target=killer)
    start = time.monotonic()
    thread.start()
    n = 0
    while time.monotonic() - start < args.seconds:
        time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
        shopper = shoppers[n % len(shoppers)]
        t0 = time.monotonic()
        try:
            sent[shopper.write(n)] = (shopper, t0)
        except requests.RequestException as exc:
            failures.append(repr(exc))
        n += 1
    thread.join()
    give_up = time.monotonic() + 30
    for shopper in shoppers:
        want = set(shopper.stored_ids())
        while time.monotonic() < give_up:
            shopper.drain()
            if want <= set(message_ids(shopper.events)):
                break
            time.sleep(0.1)
    time.sleep(2)  # a duplicate would come now
    stats = requests.get(f"{b.url}/live/stats", timeout=10).json()  # while the streams are open
    lost = duplicated = out_of_order = 0
    arrival = {}
    for shopper in shoppers:
        shopper.drain()
        ids = message_ids(shopper.events)
        expected = shopper.stored_ids()
        lost += len(set(expected) - set(ids))
        duplicated += len(ids) - len(set(ids))
        out_of_order += ids != sorted(ids)
        for event in shopper.events:
            if event.type == "message":
                arrival.setdefault(int(event.id), event.at)
        shopper.stream.close()
    phases = {"before the kill": [], "kill to takeover + 2 s": [], "after": []}
    for message_id, (_, t0) in sent.items():
        if message_id not in arrival:
            continue
        ms = (arrival[message_id] - t0) * 1000
        if t0 < timeline["kill"]:
            phases["before the kill"].append(ms)
        elif t0 < timeline["promoted"] + 2:
            phases["kill to takeover + 2 s"].append(ms)
        else:
            phases["after"].append(ms)
    print()
    print(
        f"replica took over {timeline['promoted'] - timeline['kill']:.1f} s after the kill; "
        f"{len(sent)} messages sent ({len(failures)} sends failed), {lost} lost, {duplicated} duplicated, "
        f"{out_of_order} streams out of order; B moved {stats['redis_moves']} channels, "
        f"holds shards {stats['redis_shards']}"
    )
    print()
    print("| phase | messages | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for phase, values in phases.items():
        if values:
            print(
                f"| {phase} | {len(values)} | {percentile(values, 50):.0f} | {percentile(values, 99):.0f} "
                f"| {max(values):.0f} |"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=30)
    parser.add_argument("--rate", type=float, default=10.0, help="messages a second (default 10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send (default 30)")
    args = parser.parse_args()
    reason = cluster_support()
    if reason:
        sys.exit(reason)
    name, url = backends.create_mysql_database()
    try:
        with RedisCluster() as cluster:
            env = prepared_env(
                None,
                url,
                redis_url=cluster.url,
                REDIS_CLUSTER="true",
                LIVE_STATS_ENABLED="true",
                SSE_HEARTBEAT_SECONDS="5",
                LOG_LEVEL="warning",
                LIVE_CHANNEL_PREFIX=f"bench-cluster-{uuid.uuid4().hex[:8]}:",
            )
            token = demo_admin_token(env)
            with LiveServer(env) as a, LiveServer(env) as b:
                a.admin_auth = {"Authorization": f"Bearer {token}"}
                a.database = name
                run(args, cluster, a, b)
    finally:
        backends.drop_mysql_database(name)


if __name__ == "__main__":
    main()
