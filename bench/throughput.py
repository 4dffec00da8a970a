"""Throughput: follow-up messages per second one worker accepts, end to end, on MariaDB + Redis.

    .venv/bin/python bench/throughput.py --baseline 39b1cd9            # an older commit beside this tree
    .venv/bin/python bench/throughput.py --seconds 10 --rounds 3 --connections 10

A benchmark, not a test: it prints figures and never passes or fails. Needs wrk
(`apt-get install wrk`), MariaDB and Redis on 127.0.0.1.

Each side is the real server (gunicorn, 1 gevent worker, production settings,
rate limits off) on a fresh MariaDB database of its own (dropped after) with
Redis for live events. One shopper opens a conversation through the JSON API;
then wrk sends follow-ups to it (`POST /api/products/1/messages`, the shopper's
`X-Chat-Session` header, a fresh `client_message_id` per request) over
--connections keep-alive connections for --seconds. The sides take turns for
--rounds rounds, so the machine's noise falls on both alike. Every accepted
message is a committed row and a published live event.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import ROOT, Side, tree_at  # noqa: E402

SCRIPT = r"""
local n = 0
local hex = function(k) local s = "" for i = 1, k do s = s .. string.format("%x", math.random(0, 15)) end return s end
request = function()
  n = n + 1
  local id = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-8" .. hex(3) .. "-" .. hex(12)
  local body = '{"message_text": "Follow-up ' .. n .. '", "client_message_id": "' .. id .. '"}'
  return wrk.format("POST", "/api/products/1/messages",
    {["Content-Type"] = "application/json", ["X-Chat-Session"] = "TOKEN"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def session(side):
    request = urllib.request.Request(
        side.url + "/api/products/1/messages",
        method="POST",
        data=json.dumps({"message_text": "First question"}).encode(),
        headers={"Content-Type": "application/json", "X-Chat-Session": ""},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["X-Chat-Session"]


def run_wrk(side, token, args):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(SCRIPT.replace("TOKEN", token))
    try:
        out = subprocess.run(
            ["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.seconds}s", "-s", script.name, side.url],
            capture_output=True,
            text=True,
            timeout=args.seconds + 60,
        ).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests, micros, p50, p99 = found.groups()
    return int(requests), int(micros) / 1e6, int(non_2xx.group(1)) if non_2xx else 0, float(p50), float(p99)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git ref to compare with, side by side")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    results = {}
    with tree_at(args.baseline) as baseline:
        sides = [Side(f"baseline {args.baseline}", baseline, args.redis_url, mariadb=True)] if args.baseline else []
        sides.append(Side("this tree", ROOT, args.redis_url, mariadb=True))
        try:
            tokens = {side.name: session(side.start()) for side in sides}
            for _ in range(args.rounds):
                for side in sides:
                    results.setdefault(side.name, []).append(run_wrk(side, tokens[side.name], args))
        finally:
            for side in sides:
                side.stop()
    print(
        f"1 gevent worker, MariaDB + Redis, wrk {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds} s per side, taking turns"
    )
    print("| side | round | messages accepted | per second | non-2xx | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, rounds in results.items():
        for i, (requests, seconds, bad, p50, p99) in enumerate(rounds, 1):
            print(
                f"| {name} | {i} | {requests - bad} | {(requests - bad) / seconds:.0f} | {bad} | {p50:.1f} | {p99:.1f} |"
            )


if __name__ == "__main__":
    main()
