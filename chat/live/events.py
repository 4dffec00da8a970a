"""Live events, published only after the database transaction commits.

Services call ``publish_after_commit`` with a typed record (``records.py``); the events wait in the session's
``info`` and go out in ``after_commit`` (dropped on rollback), so a client is
never told about a row it cannot read yet. Redis being down costs liveness,
never a message: the row is committed, and streams resync from the database.
"""

import logging

from flask import current_app

from .. import after_commit
from . import current_broker, grip
from .names import (  # noqa: F401 (re-exported)
    ADMIN_LIST,
    ADMIN_NOTICES,
    ADMINS,
    Event,
    customer_channel,
    inquiry_channel,
    site_channel,
)

log = logging.getLogger(__name__)
_KIND = "live"


def publish_after_commit(session, channel, record):
    """After commit, ``record`` (a ``records.Record``) on ``channel``."""
    after_commit.defer(session, _KIND, (channel, record.wire()))


def publish_to_admins(session, channel, record, site_id):
    """After commit, an admin-wide record (ADMIN_LIST or ADMIN_NOTICES): on the channel every-site
    people's streams hear, and on the site's own one (``site_channel``) for people of some
    sites, so a stream never even receives another site's events."""
    publish_after_commit(session, channel, record)
    publish_after_commit(session, site_channel(channel, site_id), record)


class _Recount:
    """A waiting-count record to fill in right after the commit (``publish_waiting``)."""

    def __init__(self, message_id):
        self.message_id = message_id


def publish_waiting(session, site_id, message_id=None):
    """After commit, the waiting counts per site as committed, for every admin page's badge.

    Counted after the commit, once the session gave its connection back (``after_release``),
    on a connection of its own, once per commit: counted inside
    the sender's transaction, two sends committing together each missed the other's
    inquiry, and the badge showed one too few until the next message.
    """
    marker = _Recount(message_id)
    after_commit.defer(session, _KIND, (ADMIN_NOTICES, marker))
    after_commit.defer(session, _KIND, (site_channel(ADMIN_NOTICES, site_id), marker))


def _recounted(pending):
    """``pending`` with each ``_Recount`` replaced by a Waiting record (dropped if the count fails:
    the next message or a reconnect brings the badge)."""
    if not any(isinstance(item, _Recount) for _, item in pending):
        return pending
    from ..extensions import db
    from ..services import inquiries
    from . import records

    try:
        with db.engine.connect() as connection:
            counts = inquiries.waiting_by_site(connection)
    except Exception:  # noqa: BLE001 - the row is committed; a badge may wait for the next event
        log.exception("could not count the waiting inquiries after a commit")
        return [(channel, item) for channel, item in pending if not isinstance(item, _Recount)]
    return [
        (channel, records.Waiting(counts, item.message_id).wire() if isinstance(item, _Recount) else item)
        for channel, item in pending
    ]


def publish_now(channel, record):
    """For ephemeral records with no row behind them (typing)."""
    _send(current_app._get_current_object(), [(channel, record.wire())])


def _send(app, pending):
    try:
        pending = _recounted(pending)
        # One round trip for the commit's events; the Redis broker logs an outage
        # once and never raises.
        current_broker(app).publish_many(pending)
        if grip.enabled(app.config):
            grip.publish(app, pending)  # streams Pushpin holds (never raises)
    except Exception:  # noqa: BLE001 - a bug must not fail a request whose row is committed
        log.exception("could not publish %s", [event.get("type") for _, event in pending])


def register():
    # After release: a waiting count is read after the commit (``_recounted``).
    after_commit.on_commit(_KIND, lambda pending: _send(current_app._get_current_object(), pending), after_release=True)
