"""Shoppers: a customer's session, the email and consent they gave, revocation.

The email belongs to the shopper, not to one question: left once, it applies
to every inquiry of theirs (the seed's ``customer_email`` column on each
inquiry is kept in step, for the admin list and its search).
"""

import sqlalchemy as sa
from flask_babel import gettext

from .. import identity
from ..extensions import db
from ..i18n import SHOPPER_LANGUAGES
from ..models import Product, ProductInquiry, Shopper, utcnow
from . import rows, validation
from .errors import NotFound, ValidationError


def find(session_id):
    if not session_id:
        return None
    # The caller's own row, read with its token (identity.from_request) in this transaction:
    # a query would hand back that same object from the identity map anyway.
    return identity.loaded_shopper(session_id) or db.session.scalar(sa.select(Shopper).filter_by(session_id=session_id))


def ensure(session_id, site_id=None, language=None):
    """The shopper row of a session, created with its first message (same transaction);
    ``language``: the one they now write in (chat/i18n.py's codes only)."""
    now = utcnow()
    shopper = find(session_id)
    if shopper is None:
        # The session's other first message (another product) may race to make it.
        rows.insert_if_absent(Shopper, session_id=session_id, site_id=site_id, created_at=now, last_seen_at=now)
        shopper = rows.locked(sa.select(Shopper).filter_by(session_id=session_id))
    shopper.last_seen_at = now
    if language in SHOPPER_LANGUAGES:
        shopper.language = language
    return shopper


def apply_email(inquiry, shopper=None):
    """A new inquiry of a shopper who left an email (with consent) gets it too
    (``shopper``: the inquiry's, if the caller holds it)."""
    shopper = shopper if shopper is not None else find(inquiry.session_id)
    if shopper is not None and shopper.email and shopper.email_consent_at:
        inquiry.customer_email = shopper.email
        inquiry.email_consent_at = shopper.email_consent_at


def set_email(session_id, email, consent):
    """Record the shopper's email for follow-up on all their questions; only with consent."""
    email = validation.email(email)
    if consent is not True:
        raise ValidationError(
            gettext("Please tick the box to agree that we email you about your questions."),
            {"email_consent": gettext("consent is required to store an email")},
        )
    shopper = find(session_id)
    if shopper is None:
        raise NotFound(
            gettext("Ask your question first, then leave your email."), {"inquiry": gettext("no conversation yet")}
        )
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

    A verified customer's session is always one of their own, made here the
    first time: no anonymous token ever held it (whoever held the anonymous
    token would read the customer's later messages). The conversations of the
    anonymous session in use on this site move over to it, unless the customer
    already asks about the same product; pass no ``anonymous_session`` for one
    that must not (a resume link's). Returns the session id to hand to the browser.
    """
    from .. import identity

    customer_id = validation.clean_text(customer_id, "customer_id", 190).strip()
    email = validation.email(email, "email")
    now = utcnow()
    # Two first page views of the same customer may race to make their row.
    rows.insert_if_absent(
        Shopper,
        session_id=identity.new_session_id(),
        site_id=site.id,
        external_id=customer_id,
        created_at=now,
        last_seen_at=now,
    )
    shopper = rows.locked(sa.select(Shopper).filter_by(site_id=site.id, external_id=customer_id))
    current = find(anonymous_session)
    changed = False
    if current is not None and current.external_id is None and current.session_id != shopper.session_id:
        changed = _move_conversations(site, current.session_id, shopper.session_id)
        if shopper.verified_at is None and current.email == email and current.email_consent_at:
            shopper.email, shopper.email_consent_at = email, current.email_consent_at  # their own consent, kept
    if shopper.email != email:
        # The shop's verified address; mails still need the customer's own consent.
        shopper.email, shopper.email_consent_at, changed = email, None, True
    if changed:
        consent = shopper.email_consent_at
        db.session.execute(
            sa.update(ProductInquiry)
            .where(ProductInquiry.session_id == shopper.session_id)
            .values(customer_email=shopper.email if consent else None, email_consent_at=consent)
        )
    shopper.verified_at = shopper.last_seen_at = now
    db.session.commit()
    return shopper.session_id


def _move_conversations(site, source, target):
    """The ``source`` session's conversations on the site become ``target``'s (not a product
    it asks about already); True if any moved."""
    # Materialised first: MySQL cannot update a table it selects from in a subquery.
    taken = list(db.session.scalars(sa.select(ProductInquiry.product_id).where(ProductInquiry.session_id == target)))
    here = sa.select(Product.id).where(Product.site_id == site.id)
    moved = db.session.execute(
        sa.update(ProductInquiry)
        .where(
            ProductInquiry.session_id == source,
            ProductInquiry.product_id.in_(here),
            ProductInquiry.product_id.not_in(taken),
        )
        .values(session_id=target)
    ).rowcount
    return moved > 0


def revoke(session_ids):
    """Refuse every token issued so far for these sessions (the browser starts afresh)."""
    now = utcnow()
    for session_id in set(session_ids):
        shopper = find(session_id)
        if shopper is None:
            shopper = Shopper(session_id=session_id)
            db.session.add(shopper)
        shopper.tokens_valid_after = now
    from . import audit

    audit.record("customer.sessions_ended", "customer", None, f"{len(set(session_ids))} chat sessions")
    db.session.commit()
    return len(set(session_ids))
