"""The floor: RSS per idle stream of gunicorn's gevent worker holding streams that do nothing.

    .venv/bin/python bench/gevent_floor.py --streams 1000,5000

A benchmark, not a test: it prints figures. One gunicorn worker (``-k gevent``, as
gunicorn.conf.py) serves a WSGI app whose stream answers a ready event and then waits
on an Event forever: no Flask, no broker, no database. What it costs per stream is the
server's (the greenlet and its saved stack, gunicorn's parser, environ and response
objects, the socket object): a floor under which no change in chat/ can bring the
app's own streams (``--app flask``: the same through Flask with a generator response).
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from servers import rss_kb  # noqa: E402

APPS = {
    "wsgi": """
import os, threading
def app(environ, start_response):
    if environ["PATH_INFO"] == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    def gen():
        yield b"event: ready\\n\\n"
        threading.Event().wait()
    return gen()
""",
    "flask": """
import os, threading
from flask import Flask, Response
app = Flask(__name__)
@app.get("/pid")
def pid():
    return str(os.getpid())
@app.get("/s")
def s():
    def gen():
        yield b"event: ready\\n\\n"
        threading.Event().wait()
    return Response(gen(), mimetype="text/event-stream", direct_passthrough=True)
""",
}


async def measure(port, pid, levels):
    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /s?ticket=abc HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        await writer.drain()
        seen = b""
        while b"ready" not in seen:
            seen += await asyncio.wait_for(reader.read(4096), 30)
        return writer

    start, writers, out = rss_kb(pid), [], []
    for level in levels:
        while len(writers) < level:
            writers += await asyncio.gather(*[one() for _ in range(min(100, level - len(writers)))])
        await asyncio.sleep(2)
        out.append((level, (rss_kb(pid) - start) / level))
    for writer in writers:
        writer.close()
    return start, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="1000,5000")
    parser.add_argument("--app", default="wsgi,flask", help="comma-separated, of: wsgi, flask")
    args = parser.parse_args()
    levels = [int(x) for x in args.streams.split(",")]
    print("| app | streams | worker RSS KB per stream |")
    print("|---|---:|---:|")
    for name in args.app.split(","):
        folder = tempfile.mkdtemp(prefix="gevent-floor-")
        with open(os.path.join(folder, "floorapp.py"), "w") as fh:
            fh.write(APPS[name])
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        gunicorn = os.path.join(ROOT, ".venv", "bin", "gunicorn")
        cmd = [gunicorn, "-k", "gevent", "-w", "1", "--worker-connections", "19000", "-b", f"127.0.0.1:{port}"]
        proc = subprocess.Popen([*cmd, "floorapp:app"], cwd=folder, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    pid = int(urllib.request.urlopen(f"http://127.0.0.1:{port}/pid", timeout=2).read())
                    break
                except OSError:
                    time.sleep(0.1)
            _, rows = asyncio.run(measure(port, pid, levels))
            for level, per in rows:
                print(f"| {name} | {level:,} | {per:.1f} |", flush=True)
        finally:
            proc.terminate()
            proc.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
