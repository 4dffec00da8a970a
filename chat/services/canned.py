"""Canned replies: saved answers admins insert by typing ``/shortcut`` in the answer box.

Their text may hold placeholders, filled for one inquiry on the server
(``fill``); a placeholder we do not know stays as typed.
"""

import re

import sqlalchemy as sa
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import CannedReply
from .errors import NotFound, ValidationError
from .validation import clean_text

SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
# Said instead of a name we do not know ("Hi {customer_first_name}" -> "Hi there").
NO_NAME = "there"
MAX_BODY = 5000


def all_replies():
    return db.session.scalars(sa.select(CannedReply).order_by(CannedReply.shortcut)).all()


def get(reply_id):
    reply = db.session.get(CannedReply, reply_id)
    if reply is None:
        raise NotFound(gettext("No such canned reply."), {"reply_id": gettext("unknown canned reply")})
    return reply


LABELS = {"title": lazy_gettext("Title"), "shortcut": lazy_gettext("Shortcut"), "text": lazy_gettext("Text")}


def _clean(data):
    """Title, shortcut and text from a form or JSON, checked together (every bad field named)."""
    errors, values = {}, {}
    for name, limit in (("title", 100), ("shortcut", 40), ("text", MAX_BODY)):
        try:
            values[name] = clean_text(data.get(name), name, limit, what=LABELS[name]).strip()
        except ValidationError as error:
            errors.update(error.fields)
    shortcut = values.get("shortcut", "").lstrip("/").lower()
    if "shortcut" in values and not SHORTCUT_RE.match(shortcut):
        errors["shortcut"] = "letters, digits, - or _ (no spaces), at most 40"
    if errors:
        raise ValidationError(gettext("Please check %(fields)s.", fields=", ".join(sorted(errors))), errors)
    values["shortcut"] = shortcut
    return values


def _taken(shortcut, except_id=None):
    query = sa.select(CannedReply.id).where(CannedReply.shortcut == shortcut)
    if except_id is not None:
        query = query.where(CannedReply.id != except_id)
    return db.session.scalar(query) is not None


def _used(shortcut):
    return ValidationError(
        gettext("The shortcut /%(shortcut)s is used already.", shortcut=shortcut), {"shortcut": gettext("already used")}
    )


def _commit(shortcut):
    try:
        db.session.commit()
    except IntegrityError:
        # Another admin took it between the check and the commit.
        db.session.rollback()
        raise _used(shortcut) from None


def create(admin, data):
    values = _clean(data)
    if _taken(values["shortcut"]):
        raise _used(values["shortcut"])
    reply = CannedReply(
        title=values["title"], shortcut=values["shortcut"], body=values["text"], created_by=admin.id if admin else None
    )
    db.session.add(reply)
    _commit(reply.shortcut)
    return reply


def update(reply_id, data):
    reply = get(reply_id)
    values = _clean(data)
    if _taken(values["shortcut"], reply.id):
        raise _used(values["shortcut"])
    reply.title, reply.shortcut, reply.body = values["title"], values["shortcut"], values["text"]
    _commit(reply.shortcut)
    return reply


def delete(reply_id):
    db.session.delete(get(reply_id))
    db.session.commit()


def matching(typed, limit=8):
    """Replies whose shortcut starts with what was typed after ``/`` (then title matches)."""
    typed = (typed or "").strip().lstrip("/").lower()[:40]
    escaped = typed.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    by_shortcut = db.session.scalars(
        sa.select(CannedReply)
        .where(CannedReply.shortcut.like(f"{escaped}%", escape="\\"))
        .order_by(CannedReply.shortcut)
        .limit(limit)
    ).all()
    if len(by_shortcut) >= limit or not typed:
        return by_shortcut
    seen = [r.id for r in by_shortcut]
    by_title = db.session.scalars(
        sa.select(CannedReply)
        .where(CannedReply.title.like(f"%{escaped}%", escape="\\"), CannedReply.id.not_in(seen) if seen else sa.true())
        .order_by(CannedReply.shortcut)
        .limit(limit - len(by_shortcut))
    ).all()
    return by_shortcut + by_title


def price_text(product):
    """A price as the shop pages show it ("12.50 EUR"), or None when unknown."""
    return f"{product.price:.2f} {product.currency}" if product.price is not None else None


def placeholders(inquiry):
    product = inquiry.product
    return {
        "product": product.name,
        "price": price_text(product) or "the price shown on the product page",
        # No customer names are stored yet (shops identify customers by id and email): a neutral word.
        "customer_first_name": NO_NAME,
        "shop": product.site.name,
    }


def fill(text, inquiry):
    """``text`` with the known placeholders filled for this inquiry; unknown ones stay as typed."""
    values = placeholders(inquiry)
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
