"""Live events, published only after the database transaction commits.

Services call ``publish_after_commit`` with a typed record (``records.py``); the events wait in the session's
``info`` and go out in ``after_commit`` (dropped on rollback), so a client is
never told about a row it cannot read yet. Redis being down costs liveness,
never a message: the row is committed, and streams resync from the database.
"""

import logging

from flask import current_app

from .. import after_commit
from . import current_broker
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


def publish_now(channel, record):
    """For ephemeral records with no row behind them (typing)."""
    _send(current_app._get_current_object(), [(channel, record.wire())])


def _send(app, pending):
    try:
        # One round trip for the commit's events; the Redis broker logs an outage
        # once and never raises.
        current_broker(app).publish_many(pending)
    except Exception:  # noqa: BLE001 - a bug must not fail a request whose row is committed
        log.exception("could not publish %s", [event.get("type") for _, event in pending])


def register():
    after_commit.on_commit(_KIND, lambda pending: _send(current_app._get_current_object(), pending))
