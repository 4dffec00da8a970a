"""Uploads: 20 shoppers send a 5 MB photo at once to one gunicorn gevent worker.

    .venv/bin/python bench/uploads.py                      # image threads 2 (the default) and 0 (on the loop)
    .venv/bin/python bench/uploads.py --threads 2 --rounds 5 --concurrency 20

A benchmark, not a test: it prints figures and never passes or fails.

Each side is the real server (gunicorn, 1 gevent worker, production settings, rate
limits off, SQLite, attachments in a local folder) with ``CHAT_IMAGE_THREADS`` set
as given: 2 runs Pillow in two real threads beside the gevent loop (the default),
0 runs it on the loop itself (for comparison only). Each shopper has a session of
its own (a first text message); then, per round, all of them send one photo at the
same moment: a 12-megapixel phone-sized JPEG of about 5 MB (every one different),
multipart through ``POST /api/products/1/messages``. Meanwhile a probe asks
``GET /embed/demo/unread`` every 50 ms: what every other user of the worker waits
while the photos are decoded, re-encoded and thumbnailed.

Printed per side: upload time p50 / p95 / max (request sent to answer, all rounds),
the probe's p50 / p95 / max, and the worker's memory: resident before, peak
(VmHWM) during the rounds, resident after.
"""

import argparse
import io
import os
import statistics
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import ROOT, Side  # noqa: E402

sys.path.insert(0, ROOT)
BOUNDARY = "----benchuploadboundary"


def photo(seed, width=4032, height=3024):
    """A phone-sized JPEG of about 5 MB: smooth noise (a real photo's detail compresses alike)."""
    from PIL import Image

    rng = os.urandom((width // 6) * (height // 6) * 3)
    small = Image.frombytes("RGB", (width // 6, height // 6), rng)
    out = io.BytesIO()
    small.resize((width, height), Image.Resampling.BICUBIC).save(out, "JPEG", quality=92)
    return out.getvalue()


def multipart(text, content, filename):
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="message_text"\r\n\r\n{text}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="client_message_id"\r\n\r\n{uuid.uuid4()}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def post(url, body, token, content_type):
    request = urllib.request.Request(
        url + "/api/products/1/messages",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "X-Chat-Session": token},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        response.read()
        return response.status, response.headers.get("X-Chat-Session")


def worker_memory(side):
    """(resident, peak) of the gunicorn worker, in MB."""
    pid = open(f"/proc/{side.process.pid}/task/{side.process.pid}/children").read().split()[0]
    values = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(threads, args, photos):
    side = Side(f"threads={threads}", ROOT, CHAT_IMAGE_THREADS=threads).start()
    try:
        tokens = []
        for n in range(args.concurrency):
            body = ('{"message_text": "Hello %d"}' % n).encode()
            tokens.append(post(side.url, body, "", "application/json")[1])
        # One photo through the whole path first (imports, the thread pool).
        post(side.url, multipart("warm", photos[0], "warm.jpg"), tokens[0], f"multipart/form-data; boundary={BOUNDARY}")
        rss_before, _ = worker_memory(side)
        uploads, probes = [], []
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                started = time.perf_counter()
                urllib.request.urlopen(side.url + "/embed/demo/unread", timeout=60).read()
                probes.append(time.perf_counter() - started)
                stop.wait(0.05)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        for round_ in range(args.rounds):
            barrier = threading.Barrier(args.concurrency)

            def shopper(n, round_=round_, barrier=barrier):
                body = multipart(
                    f"Photo {round_}-{n}", photos[(round_ * args.concurrency + n) % len(photos)], "photo.jpg"
                )
                barrier.wait()
                started = time.perf_counter()
                status, _ = post(side.url, body, tokens[n], f"multipart/form-data; boundary={BOUNDARY}")
                assert status == 201, status
                uploads.append(time.perf_counter() - started)

            workers = [threading.Thread(target=shopper, args=(n,)) for n in range(args.concurrency)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        stop.set()
        prober.join()
        rss_after, peak = worker_memory(side)
        return {
            "uploads": uploads,
            "probes": probes,
            "rss_before": rss_before,
            "peak": peak,
            "rss_after": rss_after,
        }
    finally:
        side.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, action="append", help="CHAT_IMAGE_THREADS per side (default: 2 and 0)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sides = args.threads or [2, 0]
    photos = [photo(n) for n in range(args.concurrency)]
    print(
        f"{args.concurrency} concurrent uploads x {args.rounds} rounds, photos "
        f"{statistics.mean(len(p) for p in photos) / 1e6:.1f} MB (4032x3024 JPEG), 1 gevent worker"
    )
    print(
        f"{'CHAT_IMAGE_THREADS':>18} | {'upload p50':>10} {'p95':>7} {'max':>7} | {'probe p50':>9} {'p95':>7} "
        f"{'max':>7} | {'RSS before':>10} {'peak':>7} {'after':>7}"
    )
    for threads in sides:
        result = run(threads, args, photos)
        up, pr = result["uploads"], result["probes"]
        print(
            f"{threads:>18} | {pct(up, 50):>9.2f}s {pct(up, 95):>6.2f}s {max(up):>6.2f}s | "
            f"{pct(pr, 50) * 1000:>7.0f}ms {pct(pr, 95) * 1000:>5.0f}ms {max(pr) * 1000:>5.0f}ms | "
            f"{result['rss_before']:>8.0f}MB {result['peak']:>5.0f}MB {result['rss_after']:>5.0f}MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
