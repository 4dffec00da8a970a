"""Signed, short-lived URLs of attachments, and what they open.

An ``<img>`` in the widget cannot send our session header, so the URL itself
carries the permission: it names the file, its conversation and an audience (the
conversation's shopper, or the shop's admins), signed with ``SECRET_KEY`` and good
for ``CHAT_ATTACHMENT_URL_SECONDS``. The file view (chat/files) checks what the
audience needs on top.
"""

import os
from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .. import storage
from ..extensions import db
from ..models import MessageAttachment
from . import images
from .attachments import THUMBNAIL_TYPES
from .errors import Forbidden, NotFound

AUDIENCES = {"customer": "c", "admin": "a"}


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="attachment-url")


@dataclass
class Link:
    url: str
    thumbnail_url: str | None
    # How large the thumbnail is drawn (CSS pixels: half the thumbnail, sharp on dense screens).
    shown_width: int | None
    shown_height: int | None


def link(attachment, viewer, absolute=False):
    """Signed URLs of the file and its thumbnail for ``viewer`` ("customer": the
    conversation's shopper; "admin": the shop's admins). ``absolute``: on PUBLIC_BASE_URL."""
    token = _serializer().dumps([attachment.id, attachment.inquiry_id, AUDIENCES[viewer]])
    prefix = current_app.config["PUBLIC_BASE_URL"].rstrip("/") if absolute else ""
    url = prefix + url_for("files.download", attachment_id=attachment.id, t=token)
    thumbnail_url = None
    shown = (None, None)
    if attachment.thumbnail_key:
        thumbnail_url = prefix + url_for("files.thumbnail", attachment_id=attachment.id, t=token)
        shown = shown_size(attachment.width, attachment.height)
    return Link(url, thumbnail_url, *shown)


def shown_size(width, height, side=images.THUMBNAIL_SIDE // 2):
    if not width or not height:
        return None, None
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass
class Grant:
    attachment: MessageAttachment
    audience: str  # "customer" or "admin"
    issued_ms: int


def redeem(attachment_id, token):
    """The attachment a signed URL names, for whom, since when; 403 for a bad or expired
    signature (or one made for another file), 404 when the file is gone (erased)."""
    try:
        value, issued = _serializer().loads(
            token or "", max_age=current_app.config["CHAT_ATTACHMENT_URL_SECONDS"], return_timestamp=True
        )
    except SignatureExpired:
        raise Forbidden(gettext("This link has expired: open the conversation again to see the file.")) from None
    except (BadSignature, ValueError, TypeError):
        raise Forbidden(gettext("This link is not valid.")) from None
    audience = {code: name for name, code in AUDIENCES.items()}.get(value[2] if len(value) == 3 else None)
    if value[0] != attachment_id or audience is None:
        raise Forbidden(gettext("This link is not valid."))
    attachment = db.session.get(MessageAttachment, attachment_id)
    if attachment is None or attachment.inquiry_id != value[1]:
        raise NotFound(gettext("This file is no longer available."))
    return Grant(attachment, audience, int(issued.timestamp() * 1000))


def open_file(attachment, thumbnail=False):
    """``(file object, size, content type)`` of the file or its thumbnail; ``storage.MissingObject`` if gone."""
    key = attachment.thumbnail_key if thumbnail else attachment.storage_key
    if key is None:
        raise storage.MissingObject(attachment.storage_key)
    fileobj, size = storage.current().open(key)
    if key == attachment.storage_key:
        return fileobj, size, attachment.content_type
    return fileobj, size, THUMBNAIL_TYPES[os.path.splitext(key)[1]]
