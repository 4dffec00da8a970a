"""Two workers on one Redis: does worker B read the events of worker A's shoppers?

    .venv/bin/python bench/broker_fanout.py                       # N=1000 streams a worker, both modes
    .venv/bin/python bench/broker_fanout.py --streams 5000 --rate 200 --seconds 10
    .venv/bin/python bench/broker_fanout.py --mode channels       # only today's per-channel subscribe

A benchmark, not a test: it prints figures and never passes or fails.

Two worker processes (multiprocessing, plain threads) each run the app's
RedisBroker (chat/live/broker.py) with ``--streams`` Subscriptions, one per
shopper (``customer:<random>``), exactly what N open shopper streams register.
The main process publishes ``--rate`` events a second for ``--seconds`` to
shoppers of worker A only, through a RedisBroker's ``publish`` (the path the
app's after-commit publishing takes). Each worker counts the events its broker
read from Redis, and worker A records send-to-receipt: from just before the
PUBLISH to the event being put on the stream's queue (the SSE write that
follows is the same in both modes and not measured here).

Modes (``--mode``, default both, in one run):
  channels  today: SUBSCRIBE per channel a stream shows (refcounted).
  pattern   the old behaviour: one PSUBSCRIBE to ``<prefix>*`` per worker.
Each mode uses its own random channel prefix on the shared Redis; nothing is flushed.
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from chat.live.broker import RedisBroker, Subscription  # noqa: E402


class PatternBroker(RedisBroker):
    """The old subscriber: PSUBSCRIBE <prefix>* once, whatever the streams show."""

    def _send_subscribe(self, channels):
        with self._lock:
            for channel in channels:  # the pattern covers them: nothing to wait for
                self._confirmed.setdefault(channel, threading.Event()).set()
        if self._conn is not None and getattr(self._conn, "_psubscribed", False) is False:
            self._conn._psubscribed = True
            self._conn.send_command("PSUBSCRIBE", self.prefix + "*")

    def _send(self, command, channels):
        pass  # no per-channel (UN)SUBSCRIBE

    def _on_response(self, response):
        kind = response[0].decode() if isinstance(response, list) else ""
        if kind == "pmessage":
            self.received += 1
            channel = response[2].decode()[len(self.prefix) :]
            self.dispatch(channel, json.loads(response[3]))
        elif kind == "psubscribe":
            self._resynced()


class TimedSubscription(Subscription):
    latencies = []

    def deliver(self, event):
        data = event.get("data") or {}
        if "sent" in data:
            TimedSubscription.latencies.append(time.time() - data["sent"])
        super().deliver(event)


def worker(name, mode, redis_url, prefix, streams, ready, done, results):
    cls = PatternBroker if mode == "pattern" else RedisBroker
    broker = cls(redis_url, prefix=prefix)
    shoppers = [f"customer:{uuid.uuid4().hex}" for _ in range(streams)]
    subs = []
    started = time.monotonic()
    for shopper in shoppers:
        # What LocalBroker.subscribe does, with a timed queue.
        sub = broker.subscribe({shopper})
        timed = TimedSubscription(sub.channels)
        with broker._lock:
            broker._by_channel[shopper].discard(sub)
            broker._by_channel[shopper].add(timed)
        subs.append(timed)
    subscribe_seconds = time.monotonic() - started
    received_before = broker.received
    ready.put((name, shoppers, subscribe_seconds))
    done.wait()
    time.sleep(0.5)  # the last events in flight
    subscribed = "1 pattern" if mode == "pattern" else str(len(broker.redis_channels()))
    results.put(
        {
            "name": name,
            "received": broker.received - received_before,
            "latencies": TimedSubscription.latencies,
            "redis_channels": subscribed,
        }
    )
    broker.close()


def run(mode, args):
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    ready, results, done = mp.Queue(), mp.Queue(), mp.Event()
    procs = [
        mp.Process(target=worker, args=(name, mode, args.redis_url, prefix, args.streams, ready, done, results))
        for name in ("A", "B")
    ]
    for proc in procs:
        proc.start()
    shoppers, setup = {}, {}
    for _ in procs:
        name, names, seconds = ready.get(timeout=600)
        shoppers[name], setup[name] = names, seconds
    publisher = RedisBroker(args.redis_url, prefix=prefix)
    total = int(args.rate * args.seconds)
    started = time.monotonic()
    for i in range(total):
        due = started + i / args.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        shopper = shoppers["A"][i % len(shoppers["A"])]
        publisher.publish(shopper, {"type": "message", "id": i, "data": {"sent": time.time()}})
    sent_seconds = time.monotonic() - started
    done.set()
    out = {r["name"]: r for r in (results.get(timeout=60) for _ in procs)}
    for proc in procs:
        proc.join(10)
    lat = sorted(out["A"]["latencies"])
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    return {
        "mode": mode,
        "published": total,
        "rate": total / sent_seconds,
        "a_received": out["A"]["received"],
        "b_received": out["B"]["received"],
        "a_delivered": len(lat),
        "p50": p(0.50),
        "p99": p(0.99),
        "max": lat[-1] * 1000 if lat else float("nan"),
        "a_channels": out["A"]["redis_channels"],
        "b_channels": out["B"]["redis_channels"],
        "setup": max(setup.values()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="shopper streams per worker")
    parser.add_argument("--rate", type=float, default=200, help="events a second to worker A's shoppers")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--mode", default="channels,pattern")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    rows = [run(mode, args) for mode in args.mode.split(",")]
    print(
        f"\nload average {os.getloadavg()[0]:.1f}; {args.streams} streams per worker, {args.rate:g} events/s for {args.seconds:g} s to worker A's shoppers"
    )
    print(
        f"{'mode':<9} {'published':>9} {'rate/s':>7} {'A read':>7} {'B read':>7} {'A deliv.':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'Redis subscriptions A / B':>26} {'setup s':>7}"
    )
    for r in rows:
        print(
            f"{r['mode']:<9} {r['published']:>9} {r['rate']:>7.0f} {r['a_received']:>7} {r['b_received']:>7} "
            f"{r['a_delivered']:>8} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.2f} "
            f"{r['a_channels'] + ' / ' + r['b_channels']:>26} {r['setup']:>7.1f}"
        )


if __name__ == "__main__":
    main()
