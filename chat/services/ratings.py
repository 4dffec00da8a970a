"""Satisfaction: the shopper rates the shop's answer once it was marked answered."""

import sqlalchemy as sa
from flask_babel import gettext

from ..extensions import db
from ..live import events
from ..models import RATINGS, ProductMessage, utcnow
from . import inquiries, list_rows, webhook_events
from .errors import Conflict, ValidationError
from .validation import clean_text

LABELS = {"good": "Good", "bad": "Not good"}
MAX_COMMENT = 1000


def rate(inquiry, rating, comment=None):
    """Store (or replace) the rating of a resolved inquiry; admins see it live."""
    if rating not in RATINGS:
        raise ValidationError(gettext("Please choose good or not good."), {"rating": "good or bad"})
    if comment is not None:
        comment = clean_text(comment, "comment", MAX_COMMENT, required=False).strip() or None
    if inquiry.status != "resolved":
        raise Conflict(
            gettext("You can rate the answer once the shop has marked your question answered."),
            {"status": gettext("not resolved")},
        )
    inquiry.rating, inquiry.rating_comment, inquiry.rated_at = rating, comment, utcnow()
    webhook_events.rating_created(inquiry)
    # The inquiry page shows the rating with its controls; the list shows it in the row.
    inquiries.controls_changed(inquiry)
    changed = list_rows.record(inquiry, "rating")
    events.publish_to_admins(db.session, events.ADMIN_LIST, changed, inquiry.product.site_id)
    db.session.commit()
    return inquiry


def offered_on(message):
    """Whether the rating form belongs under this line: the latest "Marked as answered"
    of an inquiry that is still resolved (older ones, or a reopened inquiry, show none)."""
    if message.system_event != "resolved" or message.inquiry.status != "resolved":
        return False
    latest = db.session.scalar(
        sa.select(sa.func.max(ProductMessage.id)).where(
            ProductMessage.inquiry_id == message.inquiry_id, ProductMessage.system_event == "resolved"
        )
    )
    return latest == message.id


def as_dict(inquiry):
    return {
        "rating": inquiry.rating,
        "comment": inquiry.rating_comment,
        "rated_at": inquiry.rated_at.isoformat() + "Z" if inquiry.rated_at else None,
    }
