"""RSS per idle stream of each Pushpin process (condure, handler, proxy), by buffer setting.

    .venv/bin/python bench/pushpin_memory.py --levels 1000,5000,10000 --buffers 8192,4096,2048

A benchmark, not a test: it prints figures. Debian's pushpin runs with
deploy/pushpin/pushpin.conf (tests/pushpin_server.py, spare ports), in front of a tiny
origin that answers every stream request the way chat/live/grip.py does (``Grip-Hold:
stream``, a reliable channel with prev-id and a plain one, the keep-alive and next link,
a ready event as the body), so Pushpin's own cost shows without the app's. Streams are
opened with a browser-sized request (about 700 bytes of headers) and parked after the
ready event; RSS of each Pushpin process is read at 0 streams and at each level.
Then one event larger than the buffer is published to one stream (``--big``) and the
bench checks that it arrives whole: condure hands a stream's body over in credits of
its buffer size, so a small buffer must still pass a large event.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from servers import rss_kb  # noqa: E402

from tests.live_server import free_port  # noqa: E402
from tests.pushpin_server import Pushpin  # noqa: E402

SESSIONS = 2000  # idle streams share chat sessions round-robin, as in sse_streams.py
BODY = b"retry: 3000\nevent: ready\ndata: \n\n"
REQUEST = (
    "GET /embed/demo/stream?product=1&after=0&ticket={ticket} HTTP/1.1\r\n"
    "Host: shop.example\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
    "Accept-Language: de-DE,de;q=0.9,en;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example/products/1\r\nOrigin: https://shop.example\r\n"
    "Last-Event-ID: 0\r\n\r\n"
)


async def origin(reader, writer):
    """One GRIP hold per request, like chat/live/grip.py's ``hold``."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        ticket = path.rsplit("ticket=", 1)[-1]
        session = int(ticket.split("-")[0]) % SESSIONS
        if "recover=" in path:  # a next link: nothing to catch up
            headers = f"Content-Type: text/event-stream\r\nGrip-Hold: stream\r\nGrip-Channel: s{session}\r\n"
            body = b""
        else:
            headers = (
                "Content-Type: text/event-stream\r\nGrip-Hold: stream\r\n"
                f"Grip-Channel: s{session}; prev-id=0\r\nGrip-Channel: product-1\r\n"
                "Grip-Keep-Alive: : heartbeat\\n\\n; format=cstring; timeout=15\r\n"
                f"Grip-Link: </embed/demo/stream?recover=1&ticket={ticket}>; rel=next; timeout=3600\r\n"
                "Cache-Control: no-cache\r\n"
            )
            body = BODY
        writer.write(
            f"HTTP/1.1 200 OK\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def by_process(proxy):
    """{name: RSS KB} of the runner's services (condure, pushpin-handler, pushpin-proxy, zurl, runner)."""
    out = {}
    for pid in proxy.pids():
        try:
            with open(f"/proc/{pid}/comm") as fh:
                name = fh.read().strip()
            out[name] = out.get(name, 0) + rss_kb(pid)
        except FileNotFoundError:
            pass
    return out


async def open_stream(port, ticket):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST.format(ticket=ticket).encode())
    await writer.drain()
    seen = b""
    while b"event: ready" not in seen:
        chunk = await asyncio.wait_for(reader.read(4096), 30)
        if not chunk:
            raise ConnectionError("closed before ready: " + seen[:200].decode(errors="replace"))
        seen += chunk
    return reader, writer


def publish(url, channel, content):
    item = {"channel": channel, "formats": {"http-stream": {"content": content}}}
    req = urllib.request.Request(url, data=json.dumps({"items": [item]}).encode())
    req.add_header("Content-Type", "application/json")
    urllib.request.urlopen(req, timeout=10).close()


async def run(buffer_size, levels, big, batch):
    server = await asyncio.start_server(origin, "127.0.0.1", free_port(), backlog=1024)
    port = server.sockets[0].getsockname()[1]
    settings = {"client_buffer_size": buffer_size}
    proxy = Pushpin(port, "bench-key", settings=settings)
    proxy.start()
    streams = []
    rows = []
    try:
        await asyncio.sleep(2)
        start = by_process(proxy)
        for level in levels:
            t0 = time.monotonic()
            while len(streams) < level:
                n = len(streams)
                todo = [open_stream(proxy.port, f"{i % SESSIONS}-{i}") for i in range(n, min(level, n + batch))]
                streams += await asyncio.gather(*todo)
            await asyncio.sleep(3)  # let the processes settle (stats, next links)
            now = by_process(proxy)
            rows.append((level, time.monotonic() - t0, {k: (now[k] - start.get(k, 0)) / level for k in now}))
        # One event larger than the buffer, to the first stream's session channel.
        reader, _ = streams[0]
        marker = "x" * big
        content = f"event: message\ndata: {marker}\n\n"
        await asyncio.get_running_loop().run_in_executor(None, publish, proxy.publish_url, "s0", content)
        got = b""
        deadline = time.monotonic() + 10
        # Chunked: the marker may come split over chunks, so count its bytes.
        while got.count(b"x") < big and time.monotonic() < deadline:
            try:
                got += await asyncio.wait_for(reader.read(65536), 1)
            except TimeoutError:
                pass
        big_ok = got.count(b"x") >= big
    finally:
        for _, writer in streams:
            writer.close()
        proxy.stop()
        server.close()
    return start, rows, big_ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1000,5000,10000")
    parser.add_argument("--buffers", default="8192,4096,2048", help="client_buffer_size values")
    parser.add_argument("--big", type=int, default=32768, help="bytes of the oversize event")
    parser.add_argument("--batch", type=int, default=50, help="streams opened at once (200 made Pushpin drop some)")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    print("| client_buffer_size | streams | opened in s | condure KB/stream | handler | proxy | zurl | total |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in [int(x) for x in args.buffers.split(",")]:
        start, rows, big_ok = asyncio.run(run(size, levels, args.big, args.batch))
        for level, took, per in rows:
            total = sum(per.values())
            print(
                f"| {size} | {level:,} | {took:.0f} | {per.get('condure', 0):.1f} | "
                f"{per.get('pushpin-handler', 0):.1f} | {per.get('pushpin-proxy', 0):.1f} | "
                f"{per.get('zurl', 0):.1f} | {total:.1f} |",
                flush=True,
            )
        base = ", ".join(f"{k} {v / 1024:.0f} MB" for k, v in sorted(start.items()))
        print(
            f"<!-- {size}: at 0 streams {base}; a {args.big:,}-byte event "
            f"{'arrived whole' if big_ok else 'did NOT arrive'} -->",
            flush=True,
        )


if __name__ == "__main__":
    main()
