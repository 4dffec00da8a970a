"""Live delivery: SSE streams fed by one broker per process.

The broker (``broker.py``) subscribes per channel and publishes with its own
pooled Redis client. From flask-sse we keep its event wire format
(``Message``); its ``publish`` and its stock ``stream`` view are not used: the
stream opens one Redis connection per client, ignores Last-Event-ID, sends no
heartbeat and takes the channel from a query parameter (see README, "Live
delivery").
"""

import os

from flask import Blueprint, abort, current_app, jsonify

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
    app.register_blueprint(sse, url_prefix="/live")
    if app.config.get("LIVE_STATS_ENABLED"):
        _count_renders_and_sql(app)
    from . import events

    events.register()


def current_broker(app=None):
    """This process's broker (the ``broker`` module holds its classes)."""
    return (app or current_app).extensions["chat_broker"]
