"""Streams held by Pushpin (``LIVE_PROXY=pushpin``): GRIP hold instructions and the publisher.

Pushpin sits in front of the app. A stream request it forwards carries ``Grip-Sig``, a
JWT signed with the key we share with it (``PUSHPIN_SIG_KEY``); only a request whose
signature verifies is answered with hold instructions (``Grip-Hold: stream``): a
client cannot make the app hold anything by sending GRIP headers itself, and Pushpin
strips them from what it forwards to clients. The app answers with the replay and
goes; Pushpin keeps the connection, subscribed to the channels the answer named, and
events reach it through its publish endpoint (``PUSHPIN_PUBLISH_URL``) after commit.

Reliability (Pushpin's reliable streaming): messages go on a channel held with
``prev-id`` (the newest message id the answer holds) and are published with their id
and the id of the message before them. When the ids do not chain (a message committed
between the replay and the hold, a publish that was lost, two workers publishing out
of order), Pushpin asks the ``Grip-Link`` next URL with ``Grip-Last`` (the last id the
connection got) and appends what the app answers: the messages after it, from the
database. Items with no id (typing, marks, the badge) go on channels held without
``prev-id``: best effort, as on the app's own streams.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.request

from flask import current_app, request

log = logging.getLogger(__name__)

# What renders a commit's broker events into Pushpin items (the shopper's, chat/embed/held.py).
_renderers = []


def enabled(config=None):
    return (config or current_app.config).get("LIVE_PROXY") == "pushpin"


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_by_pushpin(token, key, issuer="pushpin", now=None):
    """Whether ``token`` (a Grip-Sig) is an unexpired HS256 JWT from ``issuer`` signed with ``key``."""
    if not token or not key:
        return False
    try:
        head, body, sig = token.split(".")
        if json.loads(_unb64(head)).get("alg") != "HS256":
            return False
        expected = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            return False
        claims = json.loads(_unb64(body))
        return claims.get("iss") == issuer and float(claims["exp"]) > (now or time.time())
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        return False


def through_pushpin():
    """Whether this request came through our Pushpin (its Grip-Sig verifies), in pushpin mode."""
    config = current_app.config
    return enabled(config) and signed_by_pushpin(
        request.headers.get("Grip-Sig"), config.get("PUSHPIN_SIG_KEY"), config.get("PUSHPIN_SIG_ISS", "pushpin")
    )


def channel_key(*parts):
    """A channel name part derived on the server (a session never appears in Pushpin's logs)."""
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:32]


def last_ids():
    """Grip-Last of a next-link request: {channel: last id}."""
    out = {}
    for header in request.headers.getlist("Grip-Last"):
        for part in header.split(","):
            name, _, params = part.strip().partition(";")
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "last-id":
                    out[name.strip()] = value.strip()
    return out


def hold(body, reliable, plain, prev_id, next_uri):
    """A stream answer Pushpin holds: ``body`` first, then what is published on ``reliable``
    (chained by id from ``prev_id``) and the ``plain`` channels."""
    config = current_app.config
    response = current_app.response_class(body, mimetype="text/event-stream")
    response.headers["Grip-Hold"] = "stream"
    response.headers.add("Grip-Channel", f"{reliable}; prev-id={prev_id}")
    for name in plain:
        response.headers.add("Grip-Channel", name)
    # The heartbeat the app's own streams send, written by Pushpin after this much silence.
    beat = max(1, round(config["SSE_HEARTBEAT_SECONDS"]))
    response.headers["Grip-Keep-Alive"] = f": heartbeat\\n\\n; format=cstring; timeout={beat}"
    # Pushpin asks the next link on a gap, and after this long without one (its default, 120 s,
    # would be 833 requests a second for 100,000 idle streams, and it sends at most 10 a second):
    # a publish that was lost reaches an idle stream with its conversation's next message.
    response.headers["Grip-Link"] = f"<{next_uri}>; rel=next; timeout={config['PUSHPIN_RECOVER_SECONDS']}"
    response.headers["Cache-Control"] = "no-cache"
    return response


def on_publish(renderer):
    """Register ``renderer(pending) -> [item]`` for the commit's broker events."""
    if renderer not in _renderers:
        _renderers.append(renderer)


def item(channel, content, id_=None, prev_id=None):
    out = {"channel": channel, "formats": {"http-stream": {"content": content}}}
    if id_ is not None:
        out["id"], out["prev-id"] = str(id_), str(prev_id)
    return out


def publish(app, pending):
    """After commit (events._send): the events rendered for Pushpin and posted to its publish
    endpoint(s), beside the request (a greenlet under gevent). Never raises: the row is
    committed, and a reconnect or a gap replays it.

    Not in the commit's own hook: rendering reads the database, and a second connection
    taken while the writer still holds its first deadlocks the pool once as many writers
    as it has connections wait for each other. Not a daemon: a CLI command's last publish
    goes out before the process ends."""
    threading.Thread(target=_publish, args=(app, list(pending)), name="pushpin-publish").start()


def _publish(app, pending):
    try:
        # A context of its own (the writer's request is not the shopper's).
        with app.app_context(), app.test_request_context("/"):
            items = [entry for renderer in _renderers for entry in renderer(pending)]
    except Exception:  # noqa: BLE001 - a rendering bug must not fail a committed request
        log.exception("pushpin: could not render %s", [event.get("type") for _, event in pending])
        return
    if items:
        post(app.config, items)


def post(config, items):
    body = json.dumps({"items": items}).encode()
    for url in (config.get("PUSHPIN_PUBLISH_URL") or "").split(","):
        if not url.strip():
            continue
        try:
            req = urllib.request.Request(url.strip(), data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=2.0) as answer:
                answer.read()
        except Exception as exc:  # noqa: BLE001 - Pushpin away: the next message's prev-id shows the gap
            log.warning("pushpin: publish to %s failed (%s items): %s", url, len(items), exc)
