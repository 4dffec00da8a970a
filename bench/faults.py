"""Faults under load: is every acknowledged message stored once and shown once on every open stream?

    .venv/bin/python bench/faults.py                     # 8 shoppers, 2 streams each, 5 s windows
    .venv/bin/python bench/faults.py --shoppers 4 --window 3

A benchmark, not a test: it prints a table and never passes or fails
(tests/test_faults.py asserts a smaller run). The scenario is described in
tests/fault_scenario.py: gunicorn with 2 gevent workers on a fresh MariaDB
database behind a TCP proxy, a redis-server of its own; shoppers send through
the JSON API and the widget's endpoint while Redis is stopped and restarted,
the database proxy is cut and restored, and a worker is SIGKILLed.

Needs MariaDB on 127.0.0.1:3306 (TEST_MYSQL_URL) and redis-server on the PATH;
run from the repository root with the project's venv.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import fault_scenario  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=8)
    parser.add_argument("--streams", type=int, default=2, help="open streams per conversation")
    parser.add_argument("--window", type=float, default=5.0, help="seconds per window")
    parser.add_argument("--interval", type=float, default=0.05, help="pause between a shopper's messages")
    parser.add_argument("--messages", type=int, default=1000, help="at least this many sent in all")
    parser.add_argument("--server-log", help="write the server's log to this file")
    args = parser.parse_args()
    started = time.monotonic()
    rows, attempts, details = fault_scenario.run(
        shoppers=args.shoppers,
        streams=args.streams,
        window_seconds=args.window,
        interval=args.interval,
        min_messages=args.messages,
    )
    print()
    print(fault_scenario.report(rows, attempts, args.streams))
    waits = details["503 seconds"]
    if waits:
        print(
            f"\n503 answers: {len(waits)}, time to answer: median {waits[len(waits) // 2]:.3f} s, max {waits[-1]:.3f} s"
        )
    for error, n in details["connection errors"].items():
        print(f"connection error x{n}: {error}")
    tracebacks = details["server_log"].count("Traceback")
    if args.server_log:
        with open(args.server_log, "w") as fh:
            fh.write(details["server_log"])
    print(f"\nserver log: {tracebacks} tracebacks; run took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
