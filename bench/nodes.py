"""Two app nodes behind HAProxy, one killed mid-run: lost, duplicated, how late.

    .venv/bin/python bench/nodes.py
    .venv/bin/python bench/nodes.py --shoppers 40 --rate 20 --seconds 40

A benchmark, not a test: it prints figures and never passes or fails. Needs
Debian's haproxy (`apt-get install -y haproxy`), MariaDB and Redis (the shared
ones on 127.0.0.1; a fresh database and a random channel prefix, dropped after).

tests/nodes.py does the work: two nodes (separate gunicorn masters, 2 gevent
workers each, on their own spare ports) share one database and one Redis; HAProxy
runs from deploy/haproxy.cfg as it is. Every request goes through HAProxy:
shoppers' (their messages and their streams) pinned to node1, the shop's answers
(the admin API) to node2. Messages go out at ``--rate`` a second, alternating a
shopper's follow-up and an answer, round-robin over the shoppers. A third of the
way in, node1 is killed (SIGKILL, master and workers): its streams break,
reconnect through HAProxy (now to node2) with ``after=`` the last message they
show and replay from the database; a send that fails is retried with the same
client message id. At the end every stream is checked against the database:
lost, duplicated. Send-to-receipt times (before the POST to the event on the
shopper's stream) for answers and the shoppers' own messages, before and after
the kill.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import nodes  # noqa: E402


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(0, -(-pct * len(ordered) // 100) - 1)] if ordered else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0, help="messages a second (default 10)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send (default 30)")
    args = parser.parse_args()
    if not nodes.haproxy_available():
        sys.exit("haproxy is not installed (apt-get install -y haproxy)")
    with nodes.two_nodes() as (node1, node2, proxy, admin_auth):
        print(f"# {args.shoppers} shoppers' streams via HAProxy on node1; node1 killed at {args.seconds / 3:.0f} s")
        result = nodes.run(node1, proxy, admin_auth, args.shoppers, args.rate, args.seconds)
        problems = {}
        for line in node2.log_text().splitlines():
            if "WARNING" in line or "ERROR" in line:
                key = line.split("]", 3)[-1][:120]
                problems[key] = problems.get(key, 0) + 1
    rows = {}
    for message_id, (kind, t0) in result.sent.items():
        if message_id in result.arrival:
            phase = "before the kill" if t0 < result.killed else "after the kill"
            rows.setdefault((kind, phase), []).append((result.arrival[message_id] - t0) * 1000)
    print()
    print(
        f"{len(result.sent)} messages sent over {args.seconds:.0f} s to {args.shoppers} shoppers; node1 killed at "
        f"{result.killed - result.started:.0f} s; {result.reconnects} stream reconnects; {result.lost} lost, "
        f"{result.duplicated} duplicated, {result.out_of_order} streams out of order"
    )
    print(f"requests sent again: {nodes.RETRIES or 'none'}")
    for key, count in sorted(problems.items(), key=lambda kv: -kv[1])[:5]:
        print(f"node2 log: {count} x {key}")
    print()
    print("| messages | phase | count | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|")
    for (kind, phase), values in sorted(rows.items()):
        print(
            f"| {kind} | {phase} | {len(values)} | {percentile(values, 50):.0f} | {percentile(values, 99):.0f} "
            f"| {max(values):.0f} |"
        )


if __name__ == "__main__":
    main()
