"""A circuit breaker in front of the database pool: one slow failure, then fast 503s.

A database that hangs (takes connections, answers nothing) costs each attempt a
full timeout (``DATABASE_TIMEOUT_SECONDS``, ``DATABASE_QUERY_TIMEOUT_SECONDS``).
The breaker makes that cost once per outage, not once per attempt:

- **closed**: connections are handed out as usual (pre-pinged by the pool);
- **open**: the first failure to connect (refused, timed out), or a pre-ping
  or statement that times out, opens it; every attempt to get a connection
  then fails at once with :class:`DatabaseUnreachable` (an ``OperationalError``:
  ``chat/errors.py`` answers it with the 503), without touching the network. A
  connection reset on a pre-ping is a stale connection (a restart): the pool
  replaces it as before, and only if that connect fails does the breaker open;
- **half-open**: ``RESET_SECONDS`` after the last failure one caller may try (a
  pre-ping or a new connection); the others still fail at once. Its success
  closes the breaker, its failure opens it again.

One breaker per engine and process, kept beside the engine's dialect (which
outlives pool re-creation by ``engine.dispose()``); its state changes under a
lock that is never held across I/O, so threads and gevent greenlets share it.
SQLite gets none: its errors ("database is locked") are no outage of a server.

Why not a library: pybreaker holds its lock for the whole guarded call (every
checkout would queue behind one hung pre-ping), and circuitbreaker lets every
caller through once the timeout has passed (no single trial). Both wrap a
call, while a pool failure shows up in three places (connect, pre-ping,
statement) that SQLAlchemy reports through its events.
"""

import logging
import threading
import time
import weakref

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

log = logging.getLogger(__name__)

# How long an open breaker refuses every attempt before it lets one trial through.
RESET_SECONDS = 1.0
# A trial that never reports (its greenlet killed) stops blocking others after this.
TRIAL_SECONDS = 30.0


class DatabaseUnreachable(OperationalError):
    """The database failed just now: no connection attempt was made."""

    def __init__(self):
        super().__init__(None, None, ConnectionError("the database failed just now; not trying again yet"))


class CircuitBreaker:
    """Closed, open or half-open (see the module's docstring); ``clock`` for tests."""

    def __init__(self, reset_seconds=RESET_SECONDS, clock=time.monotonic):
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._opened_at = None  # None: closed
        self._trial_since = None  # a caller is trying the database (half-open)

    @property
    def state(self):
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._trial_since is not None else "open"

    def admit(self):
        """Before a checkout: return if it may go ahead, else raise DatabaseUnreachable."""
        with self._lock:
            if self._opened_at is None:
                return
            now = self._clock()
            trial_running = self._trial_since is not None and now - self._trial_since < TRIAL_SECONDS
            if now - self._opened_at < self.reset_seconds or trial_running:
                raise DatabaseUnreachable()
            self._trial_since = now  # this caller is the trial

    def allow_connect(self):
        """Before a new connection: the trial's, or any while closed; none right after a failure."""
        with self._lock:
            if self._opened_at is not None and self._trial_since is None:
                raise DatabaseUnreachable()

    def failed(self, error=None):
        with self._lock:
            was_closed = self._opened_at is None
            self._opened_at = self._clock()
            self._trial_since = None
        if was_closed:
            log.warning(
                "database unreachable (%s): answering 503 at once, one trial every %.1f s",
                type(getattr(error, "orig", None) or error).__name__,
                self.reset_seconds,
            )

    def succeeded(self):
        with self._lock:
            if self._opened_at is None:
                return
            self._opened_at = self._trial_since = None
        log.warning("database reachable again")

    def release(self):
        """The trial ended without a verdict (not an outage error): the next caller tries."""
        with self._lock:
            self._trial_since = None


_breakers = weakref.WeakKeyDictionary()
_breakers_lock = threading.Lock()


def breaker_for(dialect):
    """The breaker of the engine whose dialect this is (created, and wired to its events, once)."""
    with _breakers_lock:
        breaker = _breakers.get(dialect)
        if breaker is None:
            breaker = _breakers[dialect] = CircuitBreaker()
            _watch(dialect, breaker)
        return breaker


def _watch(dialect, breaker):
    @event.listens_for(dialect, "do_connect")
    def before_connect(dialect, connection_record, cargs, cparams):
        # A pre-ping that just timed out makes the pool reconnect at once: not while open.
        breaker.allow_connect()

    @event.listens_for(dialect, "handle_error")
    def on_error(context):
        # A pre-ping or a statement that timed out: the server hangs. (A connection
        # reset is a stale one, say after a restart: the pool reconnects, and a
        # failing connect opens the breaker in GuardedQueuePool.connect.)
        if timed_out(context.original_exception):
            breaker.failed(context.original_exception)


def timed_out(error):
    """A driver error raised for a socket timeout (PyMySQL wraps it, keeping it as the context)."""
    return isinstance(error.__context__, TimeoutError) or isinstance(error, TimeoutError)


class GuardedQueuePool(QueuePool):
    """SQLAlchemy's QueuePool with the engine's :class:`CircuitBreaker` in front of checkouts."""

    def connect(self):
        breaker = breaker_for(self._dialect)
        breaker.admit()
        try:
            connection = super().connect()
        except DatabaseUnreachable:
            raise
        except Exception as error:
            if isinstance(error, (OperationalError, self._dialect.loaded_dbapi.Error)):
                breaker.failed(error)
            else:
                breaker.release()
            raise
        except BaseException:  # the greenlet is being killed: no verdict
            breaker.release()
            raise
        breaker.succeeded()
        return connection


def engine_options(uri, options):
    """``options`` for ``uri`` with the guarded pool, for a database server (not SQLite)."""
    if uri.startswith("sqlite") or "poolclass" in options or "creator" in options:
        return options
    return {**options, "poolclass": GuardedQueuePool}
