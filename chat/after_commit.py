"""Work that waits for the transaction to commit, and is dropped if it rolls back.

Live events and webhook deliveries must never announce a row a reader cannot see
yet: a service queues the work on the session with ``defer``, and the handler
registered for its kind runs right after the commit (nothing runs on rollback).
"""

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

_handlers = {}  # kind -> handler(items), called after a commit that queued items of that kind


def defer(session, kind, item):
    """Queue ``item`` for ``kind``'s handler, to run once ``session`` commits."""
    session.info.setdefault(_key(kind), []).append(item)


def on_commit(kind, handler):
    """Run ``handler(items)`` after every commit that deferred items of ``kind`` (in order)."""
    _handlers[kind] = handler
    if not sa_event.contains(Session, "after_commit", _after_commit):
        sa_event.listen(Session, "after_commit", _after_commit)
        sa_event.listen(Session, "after_soft_rollback", _after_rollback)


def _key(kind):
    return f"chat_after_commit:{kind}"


def _after_commit(session):
    # Everything is taken off the session first: a failing handler leaves nothing behind for the next commit.
    queued = [(handler, session.info.pop(_key(kind), None)) for kind, handler in _handlers.items()]
    for handler, items in queued:
        if items:
            handler(items)


def _after_rollback(session, previous_transaction):
    for kind in _handlers:
        session.info.pop(_key(kind), None)
