"""Live delivery: SSE streams fed by one broker per process.

flask-sse gives us its event format (``Message``), its ``publish`` call and
its blueprint class. Its stock ``stream`` view is not used as is: it opens one
Redis connection per client, ignores Last-Event-ID, sends no heartbeat and
takes the channel from a query parameter (see README, "Live delivery").
"""
import json

from flask import current_app
from flask_sse import ServerSentEventsBlueprint

from .broker import LocalBroker, RedisBroker


class LiveBlueprint(ServerSentEventsBlueprint):
    """flask-sse's blueprint with one cached Redis client instead of one per publish."""

    _clients = {}

    @property
    def redis(self):
        import redis

        url = current_app.config["REDIS_URL"]
        if url not in self._clients:
            self._clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        return self._clients[url]


sse = LiveBlueprint("sse", __name__)


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
    from . import events

    events.register()


def broker(app=None):
    return (app or current_app).extensions["chat_broker"]


def encode(data):
    return json.dumps(data, separators=(",", ":"))
