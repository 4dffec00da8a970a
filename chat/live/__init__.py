"""Live delivery: SSE streams fed by one broker per process.

The broker (``broker.py``) subscribes per channel and publishes with its own
pooled Redis client. From flask-sse we keep its event wire format
(``Message``); its ``publish`` and its stock ``stream`` view are not used: the
stream opens one Redis connection per client, ignores Last-Event-ID, sends no
heartbeat and takes the channel from a query parameter (see README, "Live
delivery").
"""

import collections
import gc
import os
import time

from flask import Blueprint, abort, current_app, jsonify, request

from . import delivered
from .broker import LocalBroker, RedisBroker

sse = Blueprint("sse", __name__)
_counted = {"renders": 0, "sql": 0}  # with LIVE_STATS_ENABLED: for benchmarks' per-message figures


@sse.get("/stats")
def stats():
    """Open streams and subscriptions of this process (tests and benchmarks only)."""
    from .stream import open_streams

    if not current_app.config.get("LIVE_STATS_ENABLED"):
        abort(404)
    target = current_broker()
    redis = isinstance(target, RedisBroker)
    return jsonify(
        pid=os.getpid(),
        streams=open_streams(),
        subscriptions=target.subscription_count(),
        redis_connected=redis and target.connected.is_set(),
        redis_reconnects=target.reconnects if redis else 0,
        redis_channels=len(target.redis_channels()) if redis else 0,
        redis_received=target.received if redis else 0,
        sharded=redis and target.sharded,
        redis_shards=target.shards() if hasattr(target, "shards") else [],
        redis_moves=getattr(target, "moves", 0),
        renders=_counted["renders"],
        sql_statements=_counted["sql"],
        gc=_gc_figures(),
        loop_watchers=_loop_watchers(),
    )


def _loop_watchers():
    """Active watchers of gevent's loop (timers, sockets waited on), or None without gevent:
    an idle stream should hold none (see beats)."""
    import sys

    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is None or not gevent_monkey.is_module_patched("threading"):
        return None
    import gevent

    return gevent.get_hub().loop.activecnt


# Garbage collections of this process (with LIVE_STATS_ENABLED): a full collection
# walks every tracked object, and stalls every stream of the worker meanwhile.
_gc = {
    "collections": [0, 0, 0],
    "pause_ms": [0.0, 0.0, 0.0],
    "max_ms": [0.0, 0.0, 0.0],
    "started": None,
    "full": collections.deque(maxlen=500),  # (wall clock, ms) of the last full collections
}


def _gc_callback(phase, info):
    if phase == "start":
        _gc["started"] = time.perf_counter()
    elif _gc["started"] is not None:
        took = (time.perf_counter() - _gc["started"]) * 1000
        generation = info["generation"]
        _gc["collections"][generation] += 1
        _gc["pause_ms"][generation] += took
        _gc["max_ms"][generation] = max(_gc["max_ms"][generation], took)
        if generation == 2:
            _gc["full"].append((round(time.time(), 3), round(took, 1)))
        _gc["started"] = None


def _gc_figures():
    # Objects in each generation (a young collection walks generations 0 and 1): each
    # is listed once, and what is tracked in all is their sum.
    generations = [len(gc.get_objects(g)) for g in range(3)] if request.args.get("objects") else None
    return dict(
        collections=_gc["collections"],
        pause_ms=[round(ms, 1) for ms in _gc["pause_ms"]],
        max_ms=[round(ms, 1) for ms in _gc["max_ms"]],
        threshold=gc.get_threshold(),
        full=list(_gc["full"]),
        frozen=gc.get_freeze_count(),
        tracked=sum(generations) if generations else None,
        generations=generations,
    )


def _count_renders_and_sql(app):
    from flask import template_rendered
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def rendered(sender, template, context, **extra):
        _counted["renders"] += 1

    def executed(conn, cursor, statement, parameters, context, executemany):
        _counted["sql"] += 1

    template_rendered.connect(rendered, app, weak=False)
    event.listen(Engine, "before_cursor_execute", executed)


def init_app(app):
    url = app.config.get("REDIS_URL")
    if url and app.config.get("REDIS_CLUSTER"):
        from .cluster import ClusterBroker

        broker = ClusterBroker(url, prefix=app.config.get("LIVE_CHANNEL_PREFIX", "chat:"))
    elif url:
        broker = RedisBroker(
            url,
            prefix=app.config.get("LIVE_CHANNEL_PREFIX", "chat:"),
            sharded=app.config.get("REDIS_SHARDED_PUBSUB", False),
        )
    else:
        broker = LocalBroker()
    app.extensions["chat_broker"] = broker
    delivered.init_app(app)
    app.register_blueprint(sse, url_prefix="/live")
    from .shallow import ShallowStreams

    app.wsgi_app = ShallowStreams(app.wsgi_app)
    if app.config.get("LIVE_STATS_ENABLED"):
        _count_renders_and_sql(app)
        if _gc_callback not in gc.callbacks:
            gc.callbacks.append(_gc_callback)
    from . import events

    events.register()


def current_broker(app=None):
    """This process's broker (the ``broker`` module holds its classes)."""
    return (app or current_app).extensions["chat_broker"]
