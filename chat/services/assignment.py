"""Automatic assignment of a new inquiry, for sites that turn it on (``Site.auto_assign``).

The new inquiry goes to the site's person with the fewest waiting inquiries among those
online in the panel now (a session seen in the last ONLINE_MINUTES; the panel's stream
keeps it fresh), ties going round robin (whoever was picked longest ago). Nobody online:
it stays unassigned. Done in the transaction of the customer's first message, with a
workflow note for the admins.
"""

from datetime import timedelta

import sqlalchemy as sa

from ..extensions import db
from ..models import AdminSession, ProductInquiry, ProductMessage, utcnow
from . import access

ONLINE_MINUTES = 3


def online_members(site_id, now):
    """The active people of the site who may answer and have a session seen just now."""
    since = now - timedelta(minutes=ONLINE_MINUTES)
    online = set(
        db.session.scalars(sa.select(AdminSession.user_id).where(AdminSession.last_seen_at >= since).distinct())
    )
    return [u for u in access.members_of(site_id) if u.id in online and access.can(u, "inquiries", site_id)]


def pick(site_id, now=None):
    """Who gets the site's next new inquiry, or None (nobody online)."""
    now = now or utcnow()
    people = online_members(site_id, now)
    if not people:
        return None
    waiting = dict(
        db.session.execute(
            sa.select(ProductInquiry.assigned_admin_id, sa.func.count(ProductInquiry.id))
            .where(
                ProductInquiry.assigned_admin_id.in_([p.id for p in people]),
                ProductInquiry.waiting_since.is_not(None),
            )
            .group_by(ProductInquiry.assigned_admin_id)
        ).all()
    )
    oldest = utcnow().replace(year=1970)
    return min(people, key=lambda p: (waiting.get(p.id, 0), p.last_assigned_at or oldest, p.id))


def on_new_inquiry(inquiry, now=None):
    """Assign a new inquiry of an auto-assigning site (in the caller's transaction); returns the
    workflow rows it wrote (none, or the note naming the assignee)."""
    site = inquiry.product.site
    if not site.auto_assign or inquiry.assigned_admin_id is not None:
        return []
    now = now or utcnow()
    person = pick(site.id, now)
    if person is None:
        return []
    inquiry.assigned_admin_id = person.id
    person.last_assigned_at = now
    note = ProductMessage(
        inquiry_id=inquiry.id,
        sender_type="admin",
        message_type="system",
        system_event="assignee",
        visibility="internal",
        message_text=f"Assigned automatically to {person.name}",
        created_at=now,
    )
    db.session.add(note)
    return [note]
