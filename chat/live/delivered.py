"""Delivered marks, batched: streams say what reached their client; one writer stores it.

A stream that wrote a message to its client (or an admin page that got the notice of
a customer's message) hands the message ids to this process's ``DeliveredMarks``
without touching the database. A writer stores what waits every ``DELIVERED_FLUSH_SECONDS``
(sooner once ``DELIVERED_FLUSH_MARKS`` wait) in one transaction
(``conversations.mark_delivered_many``); its commit publishes the MARKS events as
before. So N pages that receive the same message cost one UPDATE, not N.

- A failed write (the database away) keeps its marks: they are tried again, later
  each time (up to ``MAX_RETRY_SECONDS``), and written once the database is back.
- The writer runs only while marks wait (a thread, or a greenlet under gevent's
  monkey-patching): an idle process holds no connection and no writer.
- ``flush()`` writes at once: at a graceful stop (gunicorn.conf.py), at exit, in tests.
"""

import atexit
import collections
import logging
import threading
import weakref

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)
MAX_RETRY_SECONDS = 5.0
REMEMBERED = 10_000  # stored marks kept in mind (see ``_stored``)


class DeliveredMarks:
    def __init__(self, app, interval=0.2, limit=500):
        self.app = app
        self.interval, self.limit = interval, limit
        self._lock = threading.Lock()  # guards the pending marks; never held across I/O
        self._writing = threading.Lock()  # one write at a time (the writer, a flush at exit)
        self._pending = {}  # (inquiry id, recipient) -> set of message ids
        self._writing_now = {}  # what the write under way holds
        self._count = 0
        self._wake = threading.Event()
        self._writer = None
        # Marks stored lately: the same message handed again by the next of N pages (a
        # slow client, a reconnect) costs no transaction. Bounded: the oldest are forgotten.
        self._stored = collections.OrderedDict()
        self.writes = 0  # transactions that stored marks (tests, benches)
        self.failures = 0

    def add(self, inquiry_id, recipient, message_ids):
        """``recipient`` ("admin" or "customer") got these messages of the inquiry on a device."""
        if not inquiry_id or not message_ids:
            return
        with self._lock:
            fresh = {int(i) for i in message_ids if (recipient, int(i)) not in self._stored}
            if not fresh:
                return
            self._pending.setdefault((inquiry_id, recipient), set()).update(fresh)
            self._count += len(fresh)
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="delivered-marks", daemon=True)
                self._writer.start()
            elif self._count >= self.limit:
                self._wake.set()

    def add_all(self, by_inquiry, recipient):
        """``{inquiry id: message ids}`` that reached ``recipient``'s device (a stream's ``delivered``)."""
        for inquiry_id, message_ids in by_inquiry.items():
            self.add(inquiry_id, recipient, message_ids)

    def pending(self):
        """The marks not stored yet (waiting, or in the write under way)."""
        with self._lock:
            found = {key: set(ids) for key, ids in self._writing_now.items()}
            for key, ids in self._pending.items():
                found.setdefault(key, set()).update(ids)
            return found

    def _run(self):
        delay = self.interval
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            delay = self.interval if self.flush() else min(MAX_RETRY_SECONDS, delay * 2)
            with self._lock:
                if not self._pending:
                    self._writer = None  # the next add starts another
                    return

    def flush(self):
        """Store what waits, in one transaction; False if it failed (the marks wait on)."""
        with self._writing:
            with self._lock:
                taken, self._pending, self._count = self._pending, {}, 0
                self._writing_now = taken
            if not taken:
                return True
            try:
                return self._write(taken)
            finally:
                with self._lock:
                    self._writing_now = {}

    def _write(self, taken):
        """One transaction for ``taken``; False if the database was away (they wait on)."""
        from ..extensions import db
        from ..services import conversations

        try:
            with self.app.app_context():
                try:
                    conversations.mark_delivered_many(taken)
                finally:
                    db.session.remove()
        except (OperationalError, DBAPIError) as error:
            # The database is away (or busy): keep them for the next try.
            self.failures += 1
            log.warning("delivered marks not stored yet (%s): retrying", type(error).__name__)
            self._put_back(taken)
            return False
        except Exception:  # noqa: BLE001 - a bug must not retry forever nor stop the writer
            log.exception("delivered marks dropped: %s", sorted(taken))
            return True
        self.writes += 1
        with self._lock:
            for (_, recipient), ids in taken.items():
                for message_id in ids:
                    self._stored[(recipient, message_id)] = True
            while len(self._stored) > REMEMBERED:
                self._stored.popitem(last=False)
        return True

    def _put_back(self, taken):
        with self._lock:
            for key, ids in taken.items():
                self._pending.setdefault(key, set()).update(ids)
                self._count += len(ids)


def init_app(app):
    marks = DeliveredMarks(
        app,
        interval=app.config.get("DELIVERED_FLUSH_SECONDS", 0.2),
        limit=app.config.get("DELIVERED_FLUSH_MARKS", 500),
    )
    app.extensions["chat_delivered"] = marks
    atexit.register(_flush_at_exit, weakref.ref(marks))


def _flush_at_exit(ref):
    marks = ref()
    if marks is not None:
        marks.flush()


def delivered_marks(app=None):
    """This process's ``DeliveredMarks`` for ``app`` (the current app by default)."""
    from flask import current_app

    return (app or current_app).extensions["chat_delivered"]
