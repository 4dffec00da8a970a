"""What one open shopper stream holds on the Python heap, by file (tracemalloc).

    .venv/bin/python bench/stream_heap.py

A benchmark, not a test: it prints figures. It opens 300 streams through Flask's
test client (fresh SQLite, production config, in-process broker), each parked
right after its "ready" event, and prints the heap growth per stream by the
file that allocated it: ours (chat/live/stream.py: the generator, its closures
and the kept environ; broker.py: the Subscription) against the test client's
own objects. What gunicorn's gevent worker holds per connection (the greenlet
and its saved stack, the parser, its environ) is not in this figure: compare
with the RSS per stream from sse_streams.py.
"""

import gc
import os
import sys
import tempfile
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.chdir(sys.path[0])
os.environ.update(
    CHAT_CONFIG="production",
    SECRET_KEY="x",
    DATABASE_URL=f"sqlite:///{tempfile.mkdtemp()}/m.sqlite",
    SESSION_COOKIE_SECURE="false",
    RATELIMIT_ENABLED="false",
)
os.environ.pop("REDIS_URL", None)
import subprocess

subprocess.run([".venv/bin/flask", "--app", "wsgi", "db", "upgrade"], check=True, capture_output=True)
subprocess.run([".venv/bin/flask", "--app", "wsgi", "chat", "seed-demo"], check=True, capture_output=True)
from wsgi import app

c = app.test_client(use_cookies=False)
N = 300
tokens = []
for i in range(N):
    r = c.post("/api/products/1/messages", json={"message_text": f"hi {i}"})
    tokens.append((r.headers["X-Chat-Session"], r.get_json()["id"]))


def open_stream(tok, last):
    t = c.post("/embed/demo/stream-ticket", headers={"X-Chat-Session": tok}).get_json()["ticket"]
    resp = c.get(f"/embed/demo/stream?product=1&after={last}&ticket={t}", buffered=False)
    it = iter(resp.response)
    while b"event:ready" not in next(it):
        pass
    return resp, it


open_stream(*tokens[0])  # warm
gc.collect()
tracemalloc.start(25)
s1 = tracemalloc.take_snapshot()
held = [open_stream(*t) for t in tokens[1:]]
gc.collect()
s2 = tracemalloc.take_snapshot()
diff = s2.compare_to(s1, os.environ.get("HEAP_KEY", "filename"))
total = sum(d.size_diff for d in diff)
print(f"python heap per stream (test client, parked after ready): {total / (N - 1) / 1024:.1f} KB")
for d in diff[: int(os.environ.get("HEAP_TOP", "12"))]:
    where = d.traceback[0]
    print(f"{d.size_diff / (N - 1):8.0f} B  {where.filename.replace(os.getcwd(), '.')[-70:]}:{where.lineno}")
for resp, _it in held:
    resp.close()  # end the streams before the interpreter shuts down
