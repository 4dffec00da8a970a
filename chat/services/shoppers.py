"""Shoppers: a customer's session, the email and consent they gave, revocation.

The email belongs to the shopper, not to one question: left once, it applies
to every inquiry of theirs (the seed's ``customer_email`` column on each
inquiry is kept in step, for the admin list and its search).
"""

import sqlalchemy as sa

from ..extensions import db
from ..models import ProductInquiry, Shopper, utcnow
from . import rows, validation
from .errors import NotFound, ValidationError


def find(session_id):
    return db.session.scalar(sa.select(Shopper).filter_by(session_id=session_id)) if session_id else None


def ensure(session_id, site_id=None):
    """The shopper row of a session, created with its first message (same transaction)."""
    now = utcnow()
    shopper = find(session_id)
    if shopper is None:
        # The session's other first message (another product) may race to make it.
        rows.insert_if_absent(Shopper, session_id=session_id, site_id=site_id, created_at=now, last_seen_at=now)
        shopper = rows.locked(sa.select(Shopper).filter_by(session_id=session_id))
    shopper.last_seen_at = now
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
    db.session.execute(
        sa.update(ProductInquiry)
        .where(ProductInquiry.session_id == session_id)
        .values(customer_email=email, email_consent_at=now)
    )
    db.session.commit()
    return shopper


def forget_email(session_id):
    shopper = find(session_id)
    if shopper is not None:
        shopper.email = shopper.email_consent_at = None
        db.session.execute(
            sa.update(ProductInquiry)
            .where(ProductInquiry.session_id == session_id)
            .values(customer_email=None, email_consent_at=None)
        )
        db.session.commit()
    return shopper


def identify(site, customer_id, email, anonymous_session=None):
    """The session of the shop's logged-in customer ``customer_id`` (verified by the caller).

    The first time, the anonymous session in use becomes theirs (its
    conversations stay); later, on another device, that device's anonymous
    conversations move over, unless the customer already asks about the
    same product. Returns the session id to hand to the browser.
    """
    customer_id = validation.clean_text(customer_id, "customer_id", 190, what="Customer id").strip()
    email = validation.email(email, "email")
    now = utcnow()
    shopper = db.session.scalar(sa.select(Shopper).filter_by(site_id=site.id, external_id=customer_id))
    current = find(anonymous_session)
    if shopper is None and current is not None and current.external_id is None:
        shopper = current  # this browser's history becomes the customer's
        shopper.site_id, shopper.external_id = site.id, customer_id
    elif shopper is None:
        from .. import identity

        shopper = Shopper(
            session_id=anonymous_session or identity.new_session_id(), site_id=site.id, external_id=customer_id
        )
        if find(shopper.session_id) is not None:
            shopper.session_id = identity.new_session_id()  # that session belongs to another customer
        db.session.add(shopper)
    elif (
        anonymous_session
        and anonymous_session != shopper.session_id
        and (current is None or current.external_id is None)
    ):
        # Materialised first: MySQL cannot update a table it selects from in a subquery.
        taken = list(
            db.session.scalars(
                sa.select(ProductInquiry.product_id).where(ProductInquiry.session_id == shopper.session_id)
            )
        )
        db.session.execute(
            sa.update(ProductInquiry)
            .where(ProductInquiry.session_id == anonymous_session, ProductInquiry.product_id.not_in(taken))
            .values(session_id=shopper.session_id)
        )
    shopper.verified_at = now
    if shopper.email != email:
        # The shop's verified address; mails still need the customer's own consent.
        shopper.email, shopper.email_consent_at = email, None
        db.session.execute(
            sa.update(ProductInquiry)
            .where(ProductInquiry.session_id == shopper.session_id)
            .values(customer_email=None, email_consent_at=None)
        )
    shopper.last_seen_at = now
    db.session.commit()
    return shopper.session_id


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
