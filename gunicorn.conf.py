"""gunicorn settings for SSE: gevent workers hold many idle streams cheaply."""

import os

# Web requests give up on a MySQL server that stopped answering (a 503) after this
# many seconds; the flask CLI (migrations, purge) runs without that limit. See config.py.
os.environ.setdefault("DATABASE_QUERY_TIMEOUT_SECONDS", "2")

bind = os.environ.get("BIND", "127.0.0.1:" + os.environ.get("PORT", "5000"))
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
# Each SSE stream holds one connection for as long as the page is open.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "12000"))
# gevent workers notify the arbiter from their own loop, so a long-lived
# stream does not trip this; it only catches a worker that is truly stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
keepalive = 75
accesslog = os.environ.get("ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


def on_starting(server):
    # Refuse at once (exit 1, one clear line) what several workers cannot do.
    import config

    # wsgi.py's default configuration is production.
    refused = config.workers_refused(server.cfg.workers, os.environ.get("CHAT_CONFIG", "production"))
    if refused:
        raise RuntimeError(refused)


def post_fork(server, worker):
    # Each worker raises its own soft open-files limit up to the hard one,
    # so 10,000 streams fit in one worker.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# Python's collector, tuned for a worker that holds thousands of streams (GC_TUNING=off:
# Python's defaults). A full collection walks every tracked object and stops the whole
# worker meanwhile: with 5,000 open streams (about 600,000 objects) that was a 0.1-0.5 s
# stall of every stream (docs/benchmarks.md, "Stalls at many streams"). So:
# - what the worker loaded at start-up (about 137,000 objects: modules, the app, its
#   templates) lives as long as the worker: frozen (gc.freeze), never walked again;
# - a young collection every 50,000 allocations instead of every 700: short-lived objects
#   (a request's, an event's) die before a collection sees them, so far fewer are promoted
#   to the old generation, and full collections (due when it has grown by a quarter) come
#   rarer. A young collection of 50,000 fresh objects takes about 2 ms, but in a worker
#   holding 10,000 streams it walks about 0.6 us an object (cache misses in a 300 MB heap):
#   36-89 ms, so idle streams must not leave objects in the young generation (chat/live/beats.py).
GC_THRESHOLDS = (50_000, 20, 10)


def gc_thresholds(setting):
    """GC_TUNING's value: None for Python's defaults ("off"), else the thresholds to set
    ("on": GC_THRESHOLDS; three comma-separated numbers: those, for a bench to compare)."""
    setting = setting.strip().lower()
    if setting in {"off", "0", "false", "no"}:
        return None
    if setting in {"on", "1", "true", "yes", ""}:
        return GC_THRESHOLDS
    parts = setting.split(",")
    if len(parts) == 3 and all(part.strip().isdigit() and int(part) > 0 for part in parts):
        return tuple(int(part) for part in parts)
    raise ValueError(f"GC_TUNING: on, off or three positive thresholds, not {setting!r}")


def tune_gc():
    import gc

    thresholds = gc_thresholds(os.environ.get("GC_TUNING", "on"))
    if thresholds is None:
        return
    gc.collect()  # start-up's garbage goes first: frozen garbage would never be freed
    gc.freeze()
    gc.set_threshold(*thresholds)


def untrack_greenlet_tree():
    """gevent records each greenlet's spawning stack and tree, a debugging aid that adds
    6 objects to every stream for each young collection to walk (docs/benchmarks.md).
    GEVENT_TRACK_GREENLET_TREE=true keeps it, for debugging."""
    if "GEVENT_TRACK_GREENLET_TREE" in os.environ:
        return
    try:
        import gevent
    except ImportError:
        return
    gevent.config.track_greenlet_tree = False


def post_worker_init(worker):
    tune_gc()  # the app is loaded in the worker by now
    untrack_greenlet_tree()
    # A graceful stop (a deploy, a restart, Ctrl+C under `make run`) ends the open
    # SSE streams cleanly at once: browsers reconnect without waiting for
    # graceful_timeout and without a response cut off mid-stream.
    import signal

    stop = worker.handle_exit

    def handle_exit(sig, frame):
        stop(sig, frame)
        try:
            import gevent

            # Out of the signal handler: queues take locks.
            gevent.spawn(_end_streams, worker)
        except ImportError:
            _end_streams(worker)

    worker.handle_exit = handle_exit
    signal.signal(signal.SIGTERM, handle_exit)


def worker_exit(server, worker):
    # The delivered marks still waiting in this worker are stored before it goes.
    marks = getattr(worker.wsgi, "extensions", {}).get("chat_delivered")
    if marks is not None:
        marks.flush()


def _end_streams(worker):
    target = getattr(worker.wsgi, "extensions", {}).get("chat_broker")  # bench/ serves other apps
    if target is not None:
        target.end_all()
