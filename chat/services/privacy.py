"""Privacy controls: export and erase one customer's data, purge old conversations.

A customer is found by email (every session that left it) or by one of their
inquiries (its session, and every session that left the same email). Erasing
deletes their inquiries with the messages, attachments, presence rows and outbox
mails (the foreign keys cascade), and blanks the shopper rows while keeping them
as tombstones that refuse the old tokens; the attachments' stored files are
deleted once that has committed. The export is JSON, or a zip with the JSON and
the files. Nothing is logged but counts.
"""

import json
import logging
import tempfile
import zipfile
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext

from .. import storage
from ..extensions import db
from ..models import (
    InboundEmail,
    InquiryWord,
    MessageAttachment,
    OutboxEmail,
    ProductInquiry,
    ProductMessage,
    Shopper,
    StreamTicket,
    SuggestionView,
    utcnow,
)
from . import attachment_upkeep, attachments, audit, resume_links, validation
from .errors import NotFound, ValidationError
from .validation import parse_id

log = logging.getLogger(__name__)
PURGE_BATCH = 500


def find_customer(email=None, inquiry_id=None):
    """The session ids that belong to the customer; a 404 if there are none."""
    if (email is None) == (inquiry_id is None):
        raise ValidationError(
            gettext("Give an email or an inquiry id (one of them)."),
            {"email": gettext("email or inquiry_id"), "inquiry_id": gettext("email or inquiry_id")},
        )
    emails = set()
    sessions = set()
    if inquiry_id is not None:
        inquiry = db.session.get(ProductInquiry, parse_id(inquiry_id, "inquiry_id"))
        if inquiry is None:
            raise NotFound(gettext("No such inquiry."), {"inquiry_id": gettext("unknown inquiry")})
        sessions.add(inquiry.session_id)
        if inquiry.customer_email:
            emails.add(inquiry.customer_email)
        shopper = db.session.scalar(sa.select(Shopper).filter_by(session_id=inquiry.session_id))
        if shopper is not None and shopper.email:
            emails.add(shopper.email)
    else:
        emails.add(validation.email(email, "email"))
    for address in emails:
        sessions.update(
            db.session.scalars(sa.select(Shopper.session_id).where(sa.func.lower(Shopper.email) == address.lower()))
        )
        sessions.update(
            db.session.scalars(
                sa.select(ProductInquiry.session_id).where(
                    sa.func.lower(ProductInquiry.customer_email) == address.lower()
                )
            )
        )
    if not sessions:
        raise NotFound(gettext("No customer data found for that email."), {"email": gettext("no data")})
    return Customer(sorted(sessions), sorted(emails))


class Customer:
    def __init__(self, sessions, emails):
        self.sessions = sessions
        self.emails = emails

    def inquiries(self):
        return db.session.scalars(
            sa.select(ProductInquiry).where(ProductInquiry.session_id.in_(self.sessions)).order_by(ProductInquiry.id)
        ).all()


def _iso(value):
    return value.isoformat() + "Z" if value else None


def export(customer):
    """Everything stored about the customer, as one JSON-ready dict."""
    shoppers = db.session.scalars(sa.select(Shopper).where(Shopper.session_id.in_(customer.sessions))).all()
    inquiries = customer.inquiries()
    # Who exported how much; no email or text (the log outlives an erasure).
    audit.record(
        "customer.exported",
        "inquiry",
        min((i.id for i in inquiries), default=None),
        f"{len(inquiries)} inquiries",
        commit=True,
    )
    ids = [i.id for i in inquiries]
    messages = (
        db.session.scalars(
            sa.select(ProductMessage).where(ProductMessage.inquiry_id.in_(ids)).order_by(ProductMessage.id)
        ).all()
        if ids
        else []
    )
    files = attachment_upkeep.of_inquiries(ids)
    by_inquiry = {}
    for m in messages:
        by_inquiry.setdefault(m.inquiry_id, []).append(
            {
                "id": m.id,
                "from": m.sender_type,
                "type": m.message_type,
                "visibility": m.visibility,
                "text": m.message_text,
                "created_at": _iso(m.created_at),
                "read_at": _iso(m.read_at),
                "attachments": [_attachment(a) for a in files.get(m.id, [])],
            }
        )
    mail_filter = [OutboxEmail.inquiry_id.in_(ids)] if ids else []
    if customer.emails:
        mail_filter.append(OutboxEmail.to_addr.in_(customer.emails))
    mails = (
        db.session.scalars(sa.select(OutboxEmail).where(sa.or_(*mail_filter)).order_by(OutboxEmail.id)).all()
        if mail_filter
        else []
    )
    return {
        "exported_at": _iso(utcnow()),
        "emails": sorted({s.email for s in shoppers if s.email} | set(customer.emails)),
        "sessions": [
            {
                "created_at": _iso(s.created_at),
                "last_seen_at": _iso(s.last_seen_at),
                "email_consent_at": _iso(s.email_consent_at),
                "verified_customer_id": s.external_id,
            }
            for s in shoppers
        ],
        "inquiries": [
            {
                "id": i.id,
                "product": {"id": i.product_id, "name": i.product.name, "site": i.product.site.public_id},
                "status": i.status,
                "priority": i.priority,
                "customer_email": i.customer_email,
                "created_at": _iso(i.created_at),
                "messages": by_inquiry.get(i.id, []),
            }
            for i in inquiries
        ],
        "emails_sent_to_customer": [
            {"subject": m.subject, "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
            for m in mails
            if m.to_addr in customer.emails
        ],
    }


def _attachment(attachment):
    return {
        **attachments.describe(attachment),
        # Where the zip export holds the file (its name is the sender's, after the id).
        "file": f"files/{attachment.id}-{attachment.filename}",
    }


def export_zip(customer, out=None):
    """The export as a zip written to ``out`` (default: a temporary file, returned rewound):
    ``customer.json`` and every attached file under ``files/``. A file missing from
    storage is marked ``"file": null, "unavailable": true``."""
    if out is None:
        out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        export_zip(customer, out)
        out.seek(0)
        return out
    data = export(customer)
    kept = {
        a.id: a
        for found in attachment_upkeep.of_inquiries([i["id"] for i in data["inquiries"]]).values()
        for a in found
    }
    target = storage.current()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for inquiry in data["inquiries"]:
            for message in inquiry["messages"]:
                for entry in message["attachments"]:
                    try:
                        fileobj, _ = target.open(kept[entry["id"]].storage_key)
                    except storage.MissingObject:
                        entry.update(file=None, unavailable=True)
                        continue
                    with fileobj, archive.open(entry["file"], "w") as member:
                        while chunk := fileobj.read(1024 * 1024):
                            member.write(chunk)
        archive.writestr("customer.json", json.dumps(data, indent=2, ensure_ascii=False))
    return out


def erase(customer):
    """Delete everything about the customer; returns counts (nothing personal is logged)."""
    ids = [i.id for i in customer.inquiries()]
    counts = {"inquiries": len(ids), "messages": 0, "emails": 0, "files": 0}
    audit.record("customer.erased", "inquiry", min(ids, default=None), f"{len(ids)} inquiries")
    if ids:
        counts["messages"] = db.session.scalar(
            sa.select(sa.func.count(ProductMessage.id)).where(ProductMessage.inquiry_id.in_(ids))
        )
        counts["emails"] = db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.inquiry_id.in_(ids))).rowcount
        counts["files"] = _erase_files(ids)
        db.session.execute(sa.delete(ProductMessage).where(ProductMessage.inquiry_id.in_(ids)))
        db.session.execute(sa.delete(InquiryWord).where(InquiryWord.inquiry_id.in_(ids)))
        db.session.execute(sa.delete(ProductInquiry).where(ProductInquiry.id.in_(ids)))
    if customer.emails:
        counts["emails"] += db.session.execute(
            sa.delete(OutboxEmail).where(OutboxEmail.to_addr.in_(customer.emails))
        ).rowcount
    # Which suggested answers they opened (linked to their sessions).
    db.session.execute(sa.delete(SuggestionView).where(SuggestionView.session_id.in_(customer.sessions)))
    now = utcnow()
    # Tombstones: no data left, and every token issued so far is refused.
    db.session.execute(
        sa.update(Shopper)
        .where(Shopper.session_id.in_(customer.sessions))
        .values(email=None, email_consent_at=None, external_id=None, verified_at=None, tokens_valid_after=now)
    )
    known = set(db.session.scalars(sa.select(Shopper.session_id).where(Shopper.session_id.in_(customer.sessions))))
    for session_id in set(customer.sessions) - known:
        db.session.add(Shopper(session_id=session_id, tokens_valid_after=now))
    db.session.commit()
    log.info(
        "erased a customer: %(inquiries)s inquiries, %(messages)s messages, %(files)s files, %(emails)s mails", counts
    )
    return counts


def _erase_files(inquiry_ids):
    """The conversations' attachment rows go with their messages (the foreign key cascades);
    their stored files are deleted once that commits. Returns how many files."""
    keys = attachment_upkeep.keys_of(inquiry_ids)
    attachment_upkeep.delete_after_commit(keys)
    return db.session.scalar(
        sa.select(sa.func.count(MessageAttachment.id)).where(MessageAttachment.inquiry_id.in_(inquiry_ids))
    )


def purge(retention_days, now=None):
    """Delete inquiries resolved or closed more than ``retention_days`` ago, in batches.

    Safe to run from cron, also twice at once: each batch is its own transaction.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    total = {"inquiries": 0, "messages": 0, "files": 0}
    while True:
        ids = db.session.scalars(
            sa.select(ProductInquiry.id)
            .where(ProductInquiry.status.in_(("resolved", "closed")), ProductInquiry.updated_at < cutoff)
            .order_by(ProductInquiry.id)
            .limit(PURGE_BATCH)
        ).all()
        if not ids:
            break
        total["files"] += _erase_files(ids)
        total["messages"] += db.session.execute(
            sa.delete(ProductMessage).where(ProductMessage.inquiry_id.in_(ids))
        ).rowcount
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.inquiry_id.in_(ids)))
        db.session.execute(sa.delete(InquiryWord).where(InquiryWord.inquiry_id.in_(ids)))
        total["inquiries"] += db.session.execute(sa.delete(ProductInquiry).where(ProductInquiry.id.in_(ids))).rowcount
        db.session.commit()
    # Used stream tickets are only needed while they could still be replayed.
    db.session.execute(sa.delete(StreamTicket).where(StreamTicket.used_at < now - timedelta(hours=1)))
    # Used resume links: only while the link could still be opened (it expires by itself after).
    resume_links.purge(now - timedelta(hours=current_app.config["CHAT_RESUME_LINK_HOURS"]))
    # Inbound mails' ids: while their reply address works, and a week for late redeliveries.
    keep_inbound = timedelta(days=current_app.config["MAIL_REPLY_DAYS"] + 7)
    db.session.execute(sa.delete(InboundEmail).where(InboundEmail.received_at < now - keep_inbound))
    db.session.commit()
    log.info("purged %(inquiries)s inquiries, %(messages)s messages and %(files)s files", total)
    return total
