"""Reply addresses: ``reply+<token>@MAIL_REPLY_DOMAIN``, one per inquiry and recipient.

A mail about an inquiry carries one as its ``Reply-To``; a reply to it comes back
into that inquiry (``mail_in.py``). The token names the inquiry, the recipient (an
admin, or the shopper the answer mail went to) and when it was made, and is signed
over those and the recipient's address as it was then: it stops working when it is
older than ``MAIL_REPLY_DAYS`` or the recipient's address changed.

Not itsdangerous: an address's local part holds at most 64 characters and some mail
systems fold its case, so the token is lower-case base 36 and base 32 with an 80-bit
HMAC-SHA256 tag (a forger must send about 2^79 mails to guess one).
"""

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import Shopper
from .validation import MAX_ID

ADMIN, CUSTOMER = "a", "c"
PREFIX = "reply+"
_TOKEN = re.compile(r"^([ac])([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-z]{1,8})-([a-z2-7]{16})$")
_TAG_BYTES = 10


@dataclass(frozen=True)
class ReplyToken:
    kind: str  # ADMIN or CUSTOMER
    inquiry_id: int
    recipient_id: int  # a user's id (ADMIN), a shopper row's (CUSTOMER)
    issued: int  # seconds since the epoch
    tag: str

    @property
    def payload(self):
        return f"{self.kind}{_b36(self.inquiry_id)}-{_b36(self.recipient_id)}-{_b36(self.issued)}"


def enabled():
    return bool(current_app.config.get("MAIL_REPLY_DOMAIN"))


def for_admin(inquiry, admin, now=None):
    """The Reply-To of a mail about ``inquiry`` to ``admin``, or None when mail-in is off."""
    return _address(ADMIN, inquiry.id, admin.id, admin.email, now)


def for_customer(inquiry, now=None):
    """The Reply-To of an answer mail to the inquiry's shopper, or None (mail-in off, no shopper row)."""
    shopper = db.session.scalar(sa.select(Shopper).filter_by(session_id=inquiry.session_id))
    if shopper is None or not inquiry.customer_email:
        return None
    return _address(CUSTOMER, inquiry.id, shopper.id, inquiry.customer_email, now)


def _address(kind, inquiry_id, recipient_id, recipient_address, now):
    domain = current_app.config.get("MAIL_REPLY_DOMAIN")
    if not domain:
        return None
    token = ReplyToken(kind, inquiry_id, recipient_id, int(now if now is not None else time.time()), "")
    return f"{PREFIX}{token.payload}-{_tag(token.payload, recipient_address)}@{domain}"


def parse(address):
    """The ``ReplyToken`` of an address of ours (``reply+...@MAIL_REPLY_DOMAIN``), its tag not
    checked yet (that needs the recipient's address: ``signed_for``); None for any other address."""
    domain = current_app.config.get("MAIL_REPLY_DOMAIN")
    local, at, address_domain = (address or "").rpartition("@")
    if not (domain and at and address_domain.lower() == domain and local.lower().startswith(PREFIX)):
        return None
    match = _TOKEN.match(local[len(PREFIX) :].lower())
    if match is None:
        return None
    kind, inquiry_id, recipient_id, issued, tag = match.groups()
    ids = int(inquiry_id, 36), int(recipient_id, 36)
    if not all(1 <= number <= MAX_ID for number in ids):
        return None
    return ReplyToken(kind, *ids, int(issued, 36), tag)


def signed_for(token, recipient_address):
    """Was ``token`` made by us for this recipient at ``recipient_address``?"""
    return hmac.compare_digest(token.tag, _tag(token.payload, recipient_address))


def expired(token, now=None):
    now = now if now is not None else time.time()
    return now - token.issued > current_app.config["MAIL_REPLY_DAYS"] * 86400 or token.issued > now + 300


def ours(address):
    """Is ``address`` at our reply domain (whatever its local part)?"""
    domain = current_app.config.get("MAIL_REPLY_DOMAIN")
    return bool(domain) and (address or "").rpartition("@")[2].lower() == domain


def _tag(payload, recipient_address):
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), b"mail-reply-v1", hashlib.sha256).digest()
    signed = f"{payload}\n{recipient_address.strip().lower()}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.b32encode(digest).decode().lower()


def _b36(number):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out
