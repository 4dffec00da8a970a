"""Shoppers: a customer's session, the email and consent they gave, revocation.

The email belongs to the shopper, not to one question: left once, it applies
to every inquiry of theirs (the seed's ``customer_email`` column on each
inquiry is kept in step, for the admin list and its search).
"""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import ProductInquiry, Shopper, utcnow
from . import validation
from .errors import NotFound, ValidationError


def find(session_id):
    return db.session.scalar(sa.select(Shopper).filter_by(session_id=session_id)) if session_id else None


def ensure(session_id, site_id=None):
    """The shopper row of a session, created with its first message (same transaction)."""
    shopper = find(session_id)
    if shopper is not None:
        shopper.last_seen_at = utcnow()
        return shopper
    shopper = Shopper(session_id=session_id, site_id=site_id, last_seen_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(shopper)
    except IntegrityError:
        # The session's other first message (another product) made it first.
        shopper = None
    return shopper


def apply_email(inquiry):
    """A new inquiry of a shopper who left an email (with consent) gets it too."""
    shopper = find(inquiry.session_id)
    if shopper is not None and shopper.email and shopper.email_consent_at:
        inquiry.customer_email = shopper.email
        inquiry.email_consent_at = shopper.email_consent_at


def set_email(session_id, email, consent):
    """Record the shopper's email for follow-up on all their questions; only with consent."""
    email = validation.email(email)
    if consent is not True:
        raise ValidationError(
            "Please tick the box to agree that we email you about your questions.",
            {"email_consent": "consent is required to store an email"},
        )
    shopper = find(session_id)
    if shopper is None:
        raise NotFound("Ask your question first, then leave your email.", {"inquiry": "no conversation yet"})
    now = utcnow()
    shopper.email, shopper.email_consent_at = email, now
    db.session.execute(sa.update(ProductInquiry).where(ProductInquiry.session_id == session_id)
                       .values(customer_email=email, email_consent_at=now))
    db.session.commit()
    return shopper


def forget_email(session_id):
    shopper = find(session_id)
    if shopper is not None:
        shopper.email = shopper.email_consent_at = None
        db.session.execute(sa.update(ProductInquiry).where(ProductInquiry.session_id == session_id)
                           .values(customer_email=None, email_consent_at=None))
        db.session.commit()
    return shopper


def revoke(session_ids):
    """Refuse every token issued so far for these sessions (the browser starts afresh)."""
    now = utcnow()
    for session_id in set(session_ids):
        shopper = find(session_id)
        if shopper is None:
            shopper = Shopper(session_id=session_id)
            db.session.add(shopper)
        shopper.tokens_valid_after = now
    db.session.commit()
    return len(set(session_ids))
