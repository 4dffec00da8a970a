"""Live events, published only after the database transaction commits.

Services call ``publish_after_commit``; the events wait in the session's
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


def publish_after_commit(session, channel, type_, data, id_=None):
    after_commit.defer(session, _KIND, (channel, {"type": type_, "id": id_, "data": data}))


def publish_to_admins(session, channel, type_, data, site_id):
    """After commit, an admin-wide event (ADMIN_LIST or ADMIN_NOTICES): on the channel every-site
    people's streams hear, and on the site's own one (``site_channel``) for people of some
    sites, so a stream never even receives another site's events."""
    publish_after_commit(session, channel, type_, data)
    publish_after_commit(session, site_channel(channel, site_id), type_, data)


def publish_now(channel, type_, data, id_=None):
    """For ephemeral events with no row behind them (typing)."""
    _send(current_app._get_current_object(), [(channel, {"type": type_, "id": id_, "data": data})])


def _send(app, pending):
    try:
        # One round trip for the commit's events; the Redis broker logs an outage
        # once and never raises.
        current_broker(app).publish_many(pending)
        if grip.enabled(app.config):
            grip.publish(app, pending)  # streams Pushpin holds (never raises)
    except Exception:  # noqa: BLE001 - a bug must not fail a request whose row is committed
        log.exception("could not publish %s", [event.get("type") for _, event in pending])


def register():
    after_commit.on_commit(_KIND, lambda pending: _send(current_app._get_current_object(), pending))
