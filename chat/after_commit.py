"""Work that waits for the transaction to commit, and is dropped if it rolls back.

Live events and webhook deliveries must never announce a row a reader cannot see
yet: a service queues the work on the session with ``defer``, and the handler
registered for its kind runs right after the commit (nothing runs on rollback).
"""

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

_handlers = {}  # kind -> handler(items), called after a commit that queued items of that kind
_after_release = set()  # kinds whose handler runs once the session gave its connection back
_RELEASED = "chat_after_commit:released"


def defer(session, kind, item):
    """Queue ``item`` for ``kind``'s handler, to run once ``session`` commits."""
    session.info.setdefault(_key(kind), []).append(item)


def on_commit(kind, handler, after_release=False):
    """Run ``handler(items)`` after every commit that deferred items of ``kind`` (in order).

    ``after_release``: once the committed transaction has ended and given its connection
    back to the pool, so the handler may read the database on a connection of its own
    without holding two (many requests each waiting for a second connection would
    exhaust the pool)."""
    _handlers[kind] = handler
    if after_release:
        _after_release.add(kind)
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)
        sa_event.listen(Session, "after_soft_rollback", _after_rollback)
        sa_event.listen(Session, "after_transaction_end", _after_transaction_end)


def _key(kind):
    return f"chat_after_commit:{kind}"


def _after_commit(session):
    # Everything is taken off the session first: a failing handler leaves nothing behind for the next commit.
    queued = [(kind, handler, session.info.pop(_key(kind), None)) for kind, handler in _handlers.items()]
    for kind, handler, items in queued:
        if not items:
            continue
        if kind in _after_release:
            session.info.setdefault(_RELEASED, []).append((handler, items))
        else:
            handler(items)


def _after_transaction_end(session, transaction):
    if transaction.parent is not None:
        return  # a savepoint or a subtransaction: the connection is still held
    for handler, items in session.info.pop(_RELEASED, ()):
        handler(items)


def _after_rollback(session, previous_transaction):
    for kind in _handlers:
        session.info.pop(_key(kind), None)
