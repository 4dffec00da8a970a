"""Time to the 503 per route class while MariaDB hangs (takes connections, answers nothing).

    .venv/bin/python bench/database_hang.py
    git archive c033f58 | (mkdir -p /tmp/old && tar -x -C /tmp/old)
    .venv/bin/python bench/database_hang.py --old-tree /tmp/old      # the same run, both trees
    DATABASE_TIMEOUT_SECONDS=1 DATABASE_QUERY_TIMEOUT_SECONDS=1 .venv/bin/python bench/database_hang.py

A benchmark, not a test: it prints figures. Each tree runs as the real server
(gunicorn, production settings, rate limits on, gunicorn.conf.py's default
timeouts) on a fresh MariaDB database behind a TCP proxy that is frozen while
every route class is asked ``--rounds`` times (tests/hang_scenario.py, which
tests/test_database_hang.py runs with pass/fail bounds); then the proxy thaws
and a send retried with its client id must go through, stored once.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="passes over every route class while it hangs")
    parser.add_argument("--timeout", type=float, default=60, help="client timeout per request, seconds")
    parser.add_argument("--old-tree", help="another checkout to run the same way (e.g. git archive of main)")
    args = parser.parse_args()

    from tests import hang_scenario

    trees = [("this", ROOT)] + ([("old", os.path.abspath(args.old_tree))] if args.old_tree else [])
    results = {}
    for name, tree in trees:
        print(f"-- {name} tree ({tree})", flush=True)
        results[name] = hang_scenario.run(
            root=tree, rounds=args.rounds, timeout=args.timeout, log=lambda line: print("  " + line, flush=True)
        )

    print(f"\nseconds to the answer while the database hangs, {args.rounds} requests per route class:")
    print("asked alone (its own attempt meets the hang), then back to back; timeout: the client gave up;")
    print("[new database connections each request opened]\n")
    routes = list(results["this"]["timings"])
    header = f"{'route class':<24}" + "".join(f"{name + ' tree':>34}" for name, _ in trees)
    print(header)
    for route in routes:
        cells = []
        for name, _ in trees:
            answers = results[name]["timings"][route]
            statuses = "/".join(sorted({str(status) for status, _, _ in answers}))
            seconds = " ".join(f"{s:.2f}" for _, s, _ in answers)
            connections = ",".join(str(n) for n in results[name]["connections"][route])
            cells.append(f"{statuses} in {seconds} [{connections}]")
        print(f"{route:<24}" + "".join(f"{cell:>34}" for cell in cells))
    for name, _ in trees:
        result = results[name]
        status, seconds = result["recovered"]
        print(
            f"{name} tree after the thaw: the retried send {status} after {seconds:.2f} s, "
            f"again {result['again']}, stored {result['stored']} time(s)"
        )


if __name__ == "__main__":
    main()
