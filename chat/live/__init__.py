"""Live delivery: SSE streams fed by one broker per process.

flask-sse gives us its event format (``Message``), its ``publish`` call and
its blueprint class. Its stock ``stream`` view is not used as is: it opens one
Redis connection per client, ignores Last-Event-ID, sends no heartbeat and
takes the channel from a query parameter (see README, "Live delivery").
"""
import json

from flask import current_app
from flask_sse import ServerSentEventsBlueprint

from .broker import LocalBroker, RedisBroker, publishing_client


class LiveBlueprint(ServerSentEventsBlueprint):
    """flask-sse's blueprint with one cached Redis client (a blocking pool) instead of
    a new client and pool on every publish."""

    _clients = {}

    @property
    def redis(self):
        url = current_app.config["REDIS_URL"]
        if url not in self._clients:
            self._clients[url] = publishing_client(url)
        return self._clients[url]


sse = LiveBlueprint("sse", __name__)


@sse.get("/stats")
def stats():
    """Open streams and subscriptions of this process (tests and benchmarks only)."""
    from flask import abort, jsonify

    from .stream import open_streams

    if not current_app.config.get("LIVE_STATS_ENABLED"):
        abort(404)
    target = broker()
    return jsonify(
        pid=__import__("os").getpid(),
        streams=open_streams(),
        subscriptions=target.subscription_count(),
        redis_connected=getattr(target, "connected", None) is not None and target.connected.is_set(),
        redis_reconnects=getattr(target, "reconnects", 0),
    )


def _flask_sse_publisher(app):
    def publish(event, channel):
        with app.app_context():
            sse.publish(event.get("data"), type=event.get("type"), id=event.get("id"), channel=channel)

    return publish


def init_app(app):
    url = app.config.get("REDIS_URL")
    if url:
        broker = RedisBroker(url, prefix=app.config.get("LIVE_CHANNEL_PREFIX", "chat:"),
                             publisher=_flask_sse_publisher(app))
    else:
        broker = LocalBroker()
    app.extensions["chat_broker"] = broker
    app.register_blueprint(sse, url_prefix="/live")
    from . import events

    events.register()


def broker(app=None):
    return (app or current_app).extensions["chat_broker"]


def encode(data):
    return json.dumps(data, separators=(",", ":"))
