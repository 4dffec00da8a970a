"""gunicorn settings for SSE: gevent workers hold many idle streams cheaply."""
import os

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


def post_fork(server, worker):
    # Each worker raises its own soft open-files limit up to the hard one,
    # so 10,000 streams fit in one worker.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
