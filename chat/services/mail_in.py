"""Mail in: a reply to one of our mails becomes a message in its inquiry.

Both ways in, ``flask chat mail-in`` (an SMTP server behind the MX) and
``POST /api/inbound/email`` (a mail provider's inbound webhook), hand the raw mail
to ``receive``. A reply to ``reply+<token>@MAIL_REPLY_DOMAIN`` (reply_addresses.py)
becomes

- the admin's answer, through ``inquiries.respond``, the panel's own service (the
  inquiry moves on exactly as it does for an answer from the panel), or
- the shopper's follow-up, through ``conversations.send_customer_message``, the
  widget's (a resolved inquiry reopens),

when the token is ours, names that inquiry and recipient, is younger than
``MAIL_REPLY_DAYS`` and the ``From`` is the recipient's own address.

Everything else is dropped: what a machine sent (``Auto-Submitted``, ``Precedence``,
``X-Autoreply``, bounces) and our own mail coming back (``X-Loop``, our Message-ID
domain, our own addresses) silently; what a person sent with one short mail that
says why, at most one an hour to one address, in their language (``_language``). Each
mail is handled once: its
Message-ID is kept (``InboundEmail``, unique) in the transaction that stores what
it became.
"""

import email
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.utils import getaddresses

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, lazy_gettext
from sqlalchemy.exc import IntegrityError

from .. import mail
from ..extensions import db
from ..i18n import ADMIN_LANGUAGES, DEFAULT, clean, site_languages
from ..models import InboundEmail, OutboxEmail, ProductInquiry, Shopper, User, utcnow
from . import access, conversations, inquiries, notifications, reply_addresses, reply_text, validation
from .errors import ServiceError

log = logging.getLogger(__name__)

ANSWER, FOLLOW_UP, DUPLICATE = "answer", "follow_up", "duplicate"
# Dropped without a word: a machine sent it, or it is ours coming back.
AUTOMATIC, LOOP = "automatic", "loop"
# Dropped, and the person who sent it is told why.
NO_ADDRESS, BAD_TOKEN, EXPIRED, WRONG_SENDER, NOT_ALLOWED, EMPTY, UNUSABLE = (
    "no_address",
    "bad_token",
    "expired",
    "wrong_sender",
    "not_allowed",
    "empty",
    "unusable",
)
REASONS = {
    NO_ADDRESS: lazy_gettext("it was not sent to the reply address of one of our emails."),
    BAD_TOKEN: lazy_gettext("the address it was sent to is not one we gave out, or it no longer works."),
    EXPIRED: lazy_gettext("the address it was sent to has expired (replies work for %(days)s days after our email)."),
    WRONG_SENDER: lazy_gettext("it came from another address than the one our email went to."),
    NOT_ALLOWED: lazy_gettext("the address it was sent to no longer works for you."),
    EMPTY: lazy_gettext("we found no text of yours above the quoted email."),
    UNUSABLE: "%(detail)s",  # the service's own refusal, already in the sender's language
}
# Every outcome a delivery can have, in the order the API documents them.
OUTCOMES = (ANSWER, FOLLOW_UP, DUPLICATE, AUTOMATIC, LOOP, *REASONS)
SUBJECT = lazy_gettext("Your email did not reach the conversation")
EXPLAINED_PER_HOUR = 1
AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
# Message ids derived from the mail: retried deliveries that slip past the table are stored once too.
_CLIENT_IDS = uuid.UUID("0f6a8f6e-3c1b-4d8e-9a57-6d2b1c0e4a11")


@dataclass
class Result:
    outcome: str
    inquiry_id: int | None = None
    message_id: int | None = None
    explained: bool = False  # a mail telling the sender why was queued


def receive(raw, recipients=(), envelope_sender=None):
    """Handle one inbound mail (bytes, as received); returns a ``Result``.

    ``recipients``: the SMTP envelope's (the webhook has the headers only);
    ``envelope_sender``: ``MAIL FROM``, ``""`` for a bounce. Never raises for what the
    mail holds; a database outage raises (the caller answers "try again later").
    """
    message = email.message_from_bytes(raw, policy=policy.default)
    key = _key(message, raw)
    if db.session.scalar(sa.select(InboundEmail.id).filter_by(message_key=key)) is not None:
        return Result(DUPLICATE)
    written_from = _addresses(_all(message, "From"))
    sender = _sender(written_from)
    machine = _machine(message, written_from, envelope_sender)
    if machine:
        return _drop(key, machine)
    addresses = [
        a
        for a in _recipients(message, recipients)
        if reply_addresses.ours(a) and a.lower().startswith(reply_addresses.PREFIX)
    ]
    tokens = [t for t in map(reply_addresses.parse, addresses) if t is not None]
    if not tokens:
        return _drop(key, BAD_TOKEN if addresses else NO_ADDRESS, explain_to=sender, language=_language(sender))
    token = tokens[0]
    found = _recipient(token)
    if found is None or not reply_addresses.signed_for(token, found[2]):
        return _drop(key, BAD_TOKEN, explain_to=sender, language=_language(sender))
    inquiry, admin, address = found
    language = _language(sender, inquiry, admin)
    if reply_addresses.expired(token):
        return _drop(key, EXPIRED, inquiry.id, explain_to=sender, language=language)
    if sender is None or sender != address.strip().lower():
        return _drop(key, WRONG_SENDER, inquiry.id, explain_to=sender, language=language)
    if admin is not None and not _may_answer(admin, inquiry):
        return _drop(key, NOT_ALLOWED, inquiry.id, explain_to=sender, language=language)
    text = _text(message)
    if not text:
        return _drop(key, EMPTY, inquiry.id, explain_to=sender, language=language)
    return _store(key, inquiry, admin, text, sender, language)


def _key(message, raw):
    message_id = _header(message, "Message-ID")
    return hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()


def _header(message, name):
    """A header's value as text, "" when absent or unreadable."""
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a malformed header is an absent one
        return ""
    return str(value).strip() if value is not None else ""


def _addresses(values):
    return [address for _, address in getaddresses([str(v) for v in values]) if "@" in address]


def _all(message, name):
    try:
        return message.get_all(name) or []
    except Exception:  # noqa: BLE001 - a malformed header is an absent one
        return []


def _sender(written_from):
    """The one ``From`` address, normalised (lower-cased), or None when there is not exactly one."""
    if len(written_from) != 1:
        return None
    try:
        return validation.email(written_from[0], "from").lower()
    except ServiceError:
        return None


def _machine(message, written_from, envelope_sender):
    """LOOP or AUTOMATIC when the mail was not written by a person (never answered), else None."""
    marker = mail.loop_marker(current_app.config)
    message_id = _header(message, "Message-ID").strip("<>")
    if message_id.rpartition("@")[2].lower() == mail.MESSAGE_ID_DOMAIN:
        return LOOP
    if any(marker in str(value).lower() for value in _all(message, "X-Loop")):
        return LOOP
    senders = [address.lower() for address in written_from]
    if any(address == marker or reply_addresses.ours(address) for address in senders):
        return LOOP
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted.split()[0].rstrip(";") != "no":
        return AUTOMATIC
    if _header(message, "Precedence").lower() in AUTO_PRECEDENCE:
        return AUTOMATIC
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return AUTOMATIC
    # A bounce or a read receipt: a report, or an empty envelope sender (RFC 5321's null path).
    if message.get_content_type() == "multipart/report" or envelope_sender == "":
        return AUTOMATIC
    if _header(message, "Return-Path") == "<>":
        return AUTOMATIC
    if any(address.partition("@")[0] in ("mailer-daemon", "postmaster") for address in senders):
        return AUTOMATIC
    return None


def _recipients(message, envelope):
    found = list(envelope)
    for name in RECIPIENT_HEADERS:
        found.extend(_addresses(_all(message, name)))
    return found


def _recipient(token):
    """(inquiry, the admin or None for the shopper, the address our mail went to), or None."""
    inquiry = db.session.get(ProductInquiry, token.inquiry_id)
    if inquiry is None:
        return None
    if token.kind == reply_addresses.ADMIN:
        admin = db.session.get(User, token.recipient_id)
        return (inquiry, admin, admin.email) if admin is not None else None
    shopper = db.session.get(Shopper, token.recipient_id)
    # Their address and their consent, as they are now: a removed or changed address ends its replies.
    if (
        shopper is None
        or shopper.session_id != inquiry.session_id
        or not inquiry.customer_email
        or inquiry.email_consent_at is None
    ):
        return None
    return inquiry, None, inquiry.customer_email


def _may_answer(admin, inquiry):
    """May ``admin`` answer ``inquiry`` now (as the panel would let them: active, and on its site)?"""
    return access.can(admin, "inquiries", inquiry.product.site_id)


def _text(message):
    """The reply's own words: its plain part (else its HTML as text), without quotes or signature."""
    try:
        body = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - a broken structure holds no text we can trust
        body = None
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, UnicodeError, KeyError, AssertionError):
        content = (body.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if not isinstance(content, str):
        return ""
    content = content.replace("\x00", "")
    if body.get_content_type() == "text/html":
        content = reply_text.html_to_text(content)
    elif str(body.get_param("format", "")).lower() == "flowed":
        content = reply_text.unflow(content, delsp=str(body.get_param("delsp", "")).lower() == "yes")
    return reply_text.new_text(content)


def _store(key, inquiry, admin, text, sender, language):
    """The reply as the admin's answer or the shopper's follow-up, with its Message-ID, in one transaction."""
    outcome = ANSWER if admin is not None else FOLLOW_UP
    inquiry_id = inquiry.id
    db.session.add(InboundEmail(message_key=key, outcome=outcome, inquiry_id=inquiry_id))
    try:
        db.session.flush()  # the same mail, handled at this moment elsewhere, stops here
    except IntegrityError:
        db.session.rollback()
        return Result(DUPLICATE)
    client_id = str(uuid.uuid5(_CLIENT_IDS, key))
    try:
        with force_locale(language):  # a refusal's words are the sender's, for the mail that explains it
            if admin is not None:
                result = inquiries.respond(inquiry_id, admin, text, client_msg_id=client_id)
            else:
                result = conversations.send_customer_message(inquiry.product_id, inquiry.session_id, text, client_id)
    except ServiceError as error:  # too long, not valid text: nothing of it is stored
        db.session.rollback()
        return _drop(key, UNUSABLE, inquiry_id, explain_to=sender, detail=str(error.message), language=language)
    log.info("inbound mail %s: %s in inquiry %s", key[:12], outcome, inquiry_id)
    return Result(outcome, inquiry_id, result.message.id)


def _drop(key, outcome, inquiry_id=None, explain_to=None, detail="", language=DEFAULT):
    """Keep the mail's id with why it was dropped; tell the person who sent it (``explain_to``, in ``language``)."""
    db.session.add(InboundEmail(message_key=key, outcome=outcome, inquiry_id=inquiry_id))
    explained = explain_to is not None and _explain(explain_to, outcome, key, detail, language)
    try:
        db.session.commit()
    except IntegrityError:  # handled at this moment elsewhere
        db.session.rollback()
        return Result(DUPLICATE)
    # Ids and the outcome only: logs never carry addresses or text.
    log.info("inbound mail %s dropped: %s (inquiry %s)", key[:12], outcome, inquiry_id)
    return Result(outcome, inquiry_id, explained=explained)


def _language(sender, inquiry=None, admin=None):
    """The language to explain a refusal in: an admin's panel language; else the language of
    the shopper's conversation (the token's, else the latest one from that address: stored
    with the shopper), else its site's default; English when nothing is known."""
    if admin is not None:
        return clean(admin.language, ADMIN_LANGUAGES) or DEFAULT
    if inquiry is None and sender:
        inquiry = db.session.scalar(
            sa.select(ProductInquiry)
            .where(sa.func.lower(ProductInquiry.customer_email) == sender)
            .order_by(ProductInquiry.id.desc())
            .limit(1)
        )
    if inquiry is None:
        return DEFAULT
    spoken = db.session.scalar(sa.select(Shopper.language).filter_by(session_id=inquiry.session_id))
    return clean(spoken) or site_languages(inquiry.product.site)["default"]


def _explain(to_addr, outcome, key, detail, language=DEFAULT):
    """Queue the short mail that says why, unless this address had one within the hour."""
    recent = db.session.scalar(
        sa.select(sa.func.count(OutboxEmail.id)).where(
            OutboxEmail.to_addr == to_addr,
            OutboxEmail.dedupe_key.like("mail-in:%"),
            OutboxEmail.created_at >= utcnow() - timedelta(hours=1),
        )
    )
    if recent >= EXPLAINED_PER_HOUR:
        return False
    with force_locale(language):
        reason = str(REASONS[outcome]) % {"days": current_app.config["MAIL_REPLY_DAYS"], "detail": detail}
        queued = notifications.queue_mail(f"mail-in:{key}", to_addr, str(SUBJECT), "mail_in_refused", reason=reason)
    return queued is not None
