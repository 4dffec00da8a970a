"""One SSE stream: subscribe, replay what was missed from the database, then go live.

Order matters: the subscription is registered *before* the database is
queried, so an event committed in between is either in the replay or in the
queue; the stream's cursor (``cursor.py``) drops what it sent already. The
generator holds no database connection while it waits: each step runs in a
short app context.
"""

import threading
import time

from flask import current_app, g, request
from flask.ctx import RequestContext
from flask_sse import Message
from werkzeug.local import LocalProxy

from . import beats, current_broker, records
from .broker import END, RESYNC
from .cursor import Cursor
from .delivered import delivered_marks
from .names import Event
from .shallow import aside

_open = {"streams": 0}
_open_lock = threading.Lock()


def open_streams():
    return _open["streams"]


def _count(delta):
    with _open_lock:
        _open["streams"] += delta


def once(event, key, compute):
    """``compute()`` once per event in this worker process, whichever stream asks first.

    The broker hands every stream of the process the same event dict, so what
    many streams would render alike (a list row, the waiting count) is rendered
    by the first and reused by the others (decision 12).
    """
    cache = event.setdefault("_once", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


MISSING = object()


def made(event, key):
    """What ``once(event, key, ...)`` made, or MISSING if no stream made it yet."""
    return event.get("_once", {}).get(key, MISSING)


class StreamHandler:
    """What a stream shows. Subclasses say how to replay and render for their viewer.

    A stream shows one conversation's messages (or none): the ones its cursor counts
    (see ``cursor.py``). Message events about it are answered by the stream itself
    from ``messages_after`` and ``arrived``; every other event goes to ``handle``.
    """

    channels = ()

    def shows(self, event):
        """Whether a message event is about the conversation this stream shows."""
        return False

    def messages_after(self, after):
        """That conversation's messages after id ``after`` that the viewer may see,
        oldest first (a page of them)."""
        return []

    def messages_for(self, record, after):
        """The conversation's messages after id ``after``, on hearing of ``record`` (a MESSAGE):
        its own message when it follows exactly that one (no read), else ``messages_after``."""
        if record.follows(self.reader) == after:
            from .render import recorded_message  # render imports this module

            return [recorded_message(record)]
        return self.messages_after(after)

    def arrived(self, messages, event):
        """Messages for newly stored ``messages`` (each with its id), and what follows
        them (the typing line cleared, a count)."""
        return []

    def replay(self, after):
        """Messages to send on (re)connecting: the conversation's messages after ``after``
        (each with its id), then other catch-up events (a list row, a count: no id)."""
        raise NotImplementedError

    def handle(self, event):
        """Turn any other broker event into a list of Messages (may be empty)."""
        raise NotImplementedError

    def cached(self, event):
        """The Messages for ``event`` if another stream of this worker already made them
        (see ``once``), else None. Runs without any context: no request context to
        build, no session cookie to verify, no database; so N pages that show the
        same thing cost one rendering plus N cheap lookups."""
        return None

    # Whose device the stream is ("admin" or "customer"): what it writes to its client is
    # delivered to that side (chat/live/delivered.py stores the marks, batched).
    reader = None

    def delivered(self, message_ids):
        """The conversation's messages ``message_ids`` were written to the client: the ones
        to mark delivered, as {inquiry id: message ids}. Runs without any context: no
        database (the marks are stored in batches by ``delivered.py``)."""
        return {}

    def delivers(self, event, written):
        """{inquiry id: message ids} that ``written`` (this stream's Messages for ``event``,
        just written to the client) brought to the viewer's device: a list row or a
        notification naming a message. Runs without any context, like ``delivered``."""
        return {}

    def on_open(self):
        """The stream starts (before the replay)."""

    def on_heartbeat(self):
        """Each heartbeat of a live stream."""

    def still_allowed(self):
        """Checked at each heartbeat; False ends the stream (its viewer's login has ended)."""
        return True

    # True: the stream's steps render for ``viewer()`` (``current_user`` in their
    # templates), loaded when first used, instead of the login manager verifying the
    # session again for every event. The login is checked at every heartbeat
    # (``still_allowed``, which always asks the login manager).
    pins_viewer = False

    def viewer(self):
        return None

    def on_close(self):
        """The client went away."""


def _wire(message):
    """The SSE bytes of a Message, formatted and encoded once however many streams
    send it (``once`` hands the same Message object to every stream of the worker)."""
    data = getattr(message, "_wire", None)
    if data is None:
        data = message._wire = str(message).encode()
    return data


# What a step's request context needs: the URL (url_for), the login (cookies,
# bearer token) and where the request came from. The rest of the WSGI environ
# (other headers, the server's socket and objects) is not kept for hours.
_ENVIRON_KEYS = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "HTTP_HOST",
        "HTTP_COOKIE",
        "HTTP_AUTHORIZATION",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_CHAT_SESSION",
        "HTTP_ACCEPT_LANGUAGE",  # what a stream renders speaks the page's language (chat/i18n.py)
        "HTTP_X_CHAT_LOCALE",
        "wsgi.url_scheme",
        "wsgi.errors",
        "wsgi.version",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
    }
)


def _kept_environ(environ):
    return {key: environ[key] for key in _ENVIRON_KEYS.intersection(environ)}


def _step(stream, fn, args, as_viewer):
    """``fn(*args)`` in a short request context built from the stream's own request."""
    from ..extensions import db

    app, handler = stream.app, stream.handler
    pinned = as_viewer and handler.pins_viewer
    # A pinned step reuses the stream's own cookie as its first step opened it: opening it
    # again verifies its signature again (a key derivation and an HMAC: two thirds of
    # building a step's request context).
    # The login itself is asked again at every heartbeat, in a step that opens it afresh.
    ctx = RequestContext(app, stream.environ, session=stream.session if pinned else None)
    with ctx:
        try:
            if pinned:
                stream.session = ctx.session
                g._login_user = LocalProxy(handler.viewer)  # Flask-Login's per-request user
            if getattr(handler, "locale", None):
                # The language the stream opened in: no login or site to read per step.
                g.chat_locale = handler.locale
            return fn(*args)
        finally:
            db.session.remove()


class _Stream:
    """One stream: its state in slots and its steps as methods. One small object instead of
    a closure per step and a cell per variable they share: about 3 KB less per open stream
    (docs/benchmarks.md, "Where the unexplained 10-13 KB went")."""

    __slots__ = ("app", "handler", "after", "environ", "broker", "marks", "cursor", "session")

    def __init__(self, app, handler, after):
        self.app, self.handler, self.after = app, handler, after
        self.broker = current_broker(app)
        self.marks = delivered_marks(app)
        # Each step runs in a short request context built from the stream's own
        # request (url_for, the login), and gives its database connection back.
        self.environ = _kept_environ(request.environ)
        self.cursor = None
        self.session = None  # a viewer-pinned stream's session, opened by its first step

    def run(self, fn, *args, as_viewer=True):
        # Aside: the database and rendering do not deepen the stream's own greenlet (shallow.py).
        return aside(_step, self, fn, args, as_viewer)

    def safely(self, fn, *args):
        try:
            return self.run(fn, *args)
        except Exception:  # noqa: BLE001 - one bad event must not end the stream
            self.app.logger.exception("live stream: %s failed", getattr(fn, "__name__", fn))
            return []

    def mark_delivered(self, fresh, reached=()):
        """Hand what reached the client to the batched delivered marks (no database here)."""
        handler = self.handler
        try:
            found = [handler.delivered(fresh)] if fresh else []
            for event, written in reached:
                # What one stream of this worker handed for an event, the next 39 pages need not.
                handed = event.setdefault("_handed", set())
                if handler.reader not in handed:
                    by_inquiry = handler.delivers(event, written)
                    if by_inquiry:
                        handed.add(handler.reader)
                        found.append(by_inquiry)
        except Exception:  # noqa: BLE001 - a missing mark must not end the stream
            self.app.logger.exception("live stream: delivered failed")
            return
        for by_inquiry in found:
            self.marks.add_all(by_inquiry, handler.reader)

    def allowed(self):
        try:
            return self.run(self.handler.still_allowed, as_viewer=False)
        except Exception:  # noqa: BLE001 - a database hiccup keeps the stream; the next beat asks again
            self.app.logger.exception("live stream: still_allowed failed")
            return True

    def first_time(self, message, fresh):
        """False for a message at or below the cursor (sent already); a message
        about to be written moves the cursor and goes in ``fresh``."""
        if not self.cursor.take(message):
            return False
        if message.type == Event.MESSAGE and message.id:
            fresh.append(int(message.id))
        return True

    def replay(self):
        # One chunk, then the delivered marks: a client that goes away in the
        # middle of a replay must not keep messages that are never marked.
        fresh = []
        chunk = [_wire(m) for m in self.run(self.handler.replay, self.cursor.position) if self.first_time(m, fresh)]
        if chunk:
            yield b"".join(chunk)
        self.mark_delivered(fresh)

    def handle_all(self, batch):
        """The handler's Messages for each event, in one step (one request context
        and one database session for all); None where the stream must end, and
        nothing after it."""
        from ..extensions import db

        app, handler, cursor = self.app, self.handler, self.cursor
        outs = []
        read_to = None  # the newest message this step's catch-ups read
        for event in batch:
            try:
                records.decode(event)
            except records.BadEvent as exc:
                app.logger.warning("live stream: skipped a bad event: %s", exc)
                outs.append([])
                continue
            try:
                if event.get("type") == Event.MESSAGE and handler.shows(event):
                    # Its own message if it follows the cursor, else a read after it (cursor.py).
                    start = cursor.read_from(event["id"], read_to)
                    messages = handler.messages_for(records.decode(event), start) if start is not None else []
                    if messages:
                        read_to = messages[-1].id
                    outs.append(handler.arrived(messages, event) if messages else [])
                else:
                    outs.append(handler.handle(event))
            except Exception:  # noqa: BLE001 - the database may be away for a moment
                if event.get("type") == Event.MESSAGE:
                    # Skipping it would lose it for good (later messages move the
                    # cursor past it): end, and the client's reconnect replays
                    # after what it shows, from the database.
                    app.logger.warning("live stream: message event failed; ending the stream to replay")
                    outs.append(None)
                    break
                app.logger.exception("live stream: handle failed")
                db.session.rollback()
                outs.append([])
        return outs

    def respond(self, batch):
        """The Messages for each event, in order (None: end the stream). What another
        stream of this worker made is reused without a context (``cached``)."""
        cached = self.handler.cached
        outs = []
        for event in batch:
            if event.get("type") == Event.MESSAGE:
                outs.append(None)  # the stream reads messages itself, after its cursor
                continue
            try:
                outs.append(cached(event))
            except records.BadEvent:
                outs.append(None)  # handle_all logs and skips it
        if None in outs:
            todo = [i for i, out in enumerate(outs) if out is None]
            try:
                made_now = self.run(self.handle_all, [batch[i] for i in todo])
            except Exception:  # noqa: BLE001 - no context or session to be had
                self.app.logger.exception("live stream: handle failed")
                made_now = [None]
            made_now += [None] * (len(todo) - len(made_now))
            for i, out in zip(todo, made_now):
                outs[i] = out
        return outs

    def deliver(self, batch):
        """Write the Messages for these events in one chunk; False: end the stream."""
        chunk, fresh, reached, go_on = [], [], [], True
        for event, out in zip(batch, self.respond(batch)):
            if out is None:
                go_on = False
                break
            # Every page of the worker runs this loop for every event: plain loops, no calls
            # for what needs none. Only a stored message can have been sent already (the
            # cursor's), and a Message's bytes are made once for all pages.
            written = []
            for item in out:
                if item.type == Event.MESSAGE and not self.first_time(item, fresh):
                    continue
                written.append(item)
                chunk.append(getattr(item, "_wire", None) or _wire(item))
            if written:
                reached.append((event, written))
        if chunk:
            yield b"".join(chunk)
            self.mark_delivered(fresh, reached)
        return go_on

    def generate(self):
        app, handler, broker = self.app, self.handler, self.broker
        config = app.config
        heartbeat = config["SSE_HEARTBEAT_SECONDS"]
        retry = f"retry: {config['SSE_RETRY_MS']}\n\n".encode()
        if broker.stopping:
            # This process is shutting down (a reconnect on a kept-alive connection):
            # end at once, so the client reconnects to one that runs.
            yield retry
            return
        # WSGI servers send the response headers with the first body chunk: send
        # it before any database work (on_open writes presence and may wait for
        # a write lock), so the client knows at once that its stream is open.
        yield retry
        # A handler that asks nothing at a heartbeat (a shopper's) costs no request context
        # there: at 10,000 streams and a beat every 15 s that was 1,300 contexts a second.
        checks_login = type(handler).still_allowed is not StreamHandler.still_allowed
        calls_on_heartbeat = type(handler).on_heartbeat is not StreamHandler.on_heartbeat
        sub = broker.subscribe(handler.channels)
        _count(+1)
        cursor = self.cursor = Cursor(self.after)
        try:
            self.run(handler.on_open)
            yield from self.replay()
            # "ready" tells the client the stream really flows (a buffering
            # proxy would hold it back, and the widget then falls back to polling).
            yield _wire(Message(str(cursor.position or 0), type=Event.READY))
            ticker = beats.every(heartbeat)
            ticker.due(sub, time.monotonic() + heartbeat)
            while True:
                event = sub.next()
                if event is None:
                    yield b": heartbeat\n\n"
                    if checks_login and not self.allowed():
                        return
                    if calls_on_heartbeat:
                        self.safely(handler.on_heartbeat)
                    ticker.due(sub, time.monotonic() + heartbeat)
                    continue
                # This event and any others already queued (one commit publishes a
                # message, the badge and a list row together): one step, one write.
                batch, end = [], False
                for queued in [event, *sub.queued()]:
                    if queued is END:
                        end = True  # a clean end: the browser reconnects at once, nothing is cut off
                        break
                    if queued is RESYNC or queued.get("type") == Event.RESYNC:
                        if not (yield from self.deliver(batch)):
                            return
                        batch = []
                        yield from self.replay()
                    else:
                        batch.append(queued)
                if not (yield from self.deliver(batch)) or end:
                    return
        except Exception as exc:  # noqa: BLE001 - a replay or on_open with the database away
            # End cleanly (no traceback, no cut response): the client reconnects and replays.
            app.logger.warning("live stream ended: %s", exc)
        finally:
            broker.unsubscribe(sub)
            _count(-1)
            try:
                self.run(handler.on_close)
            except Exception:  # noqa: BLE001 - cleanup must not raise into the server
                app.logger.exception("stream cleanup failed")


def event_stream(handler, after):
    app = current_app._get_current_object()
    stream = _Stream(app, handler, after)
    # Bytes straight to the server: no encoding wrapper generator (and its frame) per stream.
    response = app.response_class(stream.generate(), mimetype="text/event-stream", direct_passthrough=True)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
