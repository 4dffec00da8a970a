"""What one flush of the live streams' delivered marks costs: one message of one inquiry.

    .venv/bin/python bench/marks_flush.py                          # this tree, time per flush
    .venv/bin/python bench/marks_flush.py --callgrind              # instructions per flush (~3 min a tree)
    .venv/bin/python bench/marks_flush.py --callgrind --old-tree /work/wt/old   # side by side

A benchmark, not a test: it prints figures and never passes or fails.

An admin page's stream that wrote a customer's message hands it to the delivered marks
(``chat/live/delivered.py``); a writer stores what waits every 200 ms in one transaction
and publishes the marks. With messages further apart than that (a quiet shop, or
``admin_fanout.py --callgrind``, which runs 40 times slower under valgrind) every message
gets a flush of its own. This runs the app in-process (production config, SQLite, the
in-process broker, gevent's threading as in the worker), sends ``--flushes`` customer
messages first, then marks each one delivered and flushes it.

With ``--callgrind`` each tree runs twice under valgrind, with no flush and with
``--flushes``; the difference of the two totals, per flush, is what a flush costs in
instructions. The collector is off and the hash seed fixed in those runs, so the two runs
differ only by the flushes (with both on, runs of one tree moved by about 1 M a flush).
"""

import argparse
import os
import re
import runpy
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(flushes):
    """In a process of its own (gevent patched first): seconds for ``flushes`` flushes."""
    import gc

    sys.path.insert(0, os.getcwd())  # the tree under test (its chat/ and tests/)
    app_with_demo = runpy.run_path(os.path.join(ROOT, "bench", "inprocess.py"))["app_with_demo"]
    app, _ = app_with_demo(tempfile.mkdtemp(prefix="marks-flush-"))
    from chat.live.delivered import delivered_marks
    from tests.test_inbox import Customer

    marks = delivered_marks(app)
    shoppers = [Customer(app, 1) for _ in range(20)]
    sent = [shoppers[i % 20].says(f"Question {i}") for i in range(20 + max(flushes, 100))]

    def flush(message):
        marks.add(message["inquiry_id"], "admin", [message["id"]])
        marks.flush()

    for message in sent[:20]:  # warm up: statements compiled, caches filled
        flush(message)
    gc.collect()
    gc.disable()  # what the flushes cost, not when the collector happens to run
    started = time.perf_counter()
    for message in sent[20 : 20 + flushes]:
        flush(message)
    took = time.perf_counter() - started
    assert marks.writes == 20 + flushes, marks.writes
    return took


def child(tree, flushes, callgrind_out=None):
    code = (
        "from gevent import monkey; monkey.patch_all(); "
        f"import runpy; print(runpy.run_path({os.path.join(ROOT, 'bench', 'marks_flush.py')!r})['run']({flushes}))"
    )
    command = [sys.executable, "-c", code]
    env = dict(os.environ, PYTHONPATH=tree)
    if callgrind_out:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind_out}"] + command
        env["PYTHONHASHSEED"] = "0"
    out = subprocess.run(command, capture_output=True, text=True, cwd=tree, env=env, check=True)
    seconds = float(out.stdout.strip().splitlines()[-1])
    if not callgrind_out:
        return seconds
    with open(callgrind_out) as fh:
        return int(re.search(r"^summary: (\d+)", fh.read(), re.M).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flushes", type=int, default=100)
    parser.add_argument("--old-tree", help="another checkout, run the same way")
    parser.add_argument("--callgrind", action="store_true", help="count instructions (valgrind)")
    args = parser.parse_args()
    trees = [("this", ROOT)] + ([("old", os.path.abspath(args.old_tree))] if args.old_tree else [])
    workdir = tempfile.mkdtemp(prefix="marks-flush-cg-")
    for name, tree in trees:
        if args.callgrind:
            none, some = (child(tree, n, os.path.join(workdir, f"cg.{name}.{n}")) for n in (0, args.flushes))
            print(f"{name:>4}  {(some - none) / args.flushes / 1e6:.2f} M instructions a flush  ({tree})", flush=True)
        else:
            took = child(tree, args.flushes)
            print(f"{name:>4}  {took / args.flushes * 1e6:.0f} us a flush  ({tree})", flush=True)


if __name__ == "__main__":
    main()
