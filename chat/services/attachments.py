"""Files sent with messages: checked, re-encoded, stored, linked, erased, swept.

A send with files (``conversations`` calls these) goes:

1. ``check``: how many, how large, what they are (sniffed from the bytes), the
   sender's hourly budget; every problem of every file at once, nothing stored;
2. ``store``: images re-encoded off the gevent loop with their thumbnails, PDFs as
   given, all put in the storage under new random keys, before the message's
   transaction begins (no transaction waits on Pillow or S3); ``receive`` does both;
3. ``attach``: the rows, added to the message's transaction and committed with it;
4. ``discard``: the stored objects deleted again when that transaction does not
   commit (a bad input, a retry that found its message stored, an outage). A process
   that dies in between leaves objects no row names: ``sweep`` deletes them later.

Links are signed, short-lived URLs bound to the attachment, its conversation and
an audience (the conversation's shopper, or the shop's admins): an ``<img>``
cannot send our session header, so the URL itself carries the permission, and the
file view checks what the audience needs (see chat/files).
"""

import io
import logging
import os
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from .. import storage
from ..extensions import db
from ..models import MessageAttachment, utcnow
from . import images
from .errors import Forbidden, NotFound, ServiceError, ValidationError

log = logging.getLogger(__name__)
FILENAME_LENGTH = 120
MB = 1024 * 1024


class FilesRefused(ServiceError):
    """One or more files were refused; ``fields`` names each (``files[0]``...) with why.

    The status is the first refused file's: 413 too large, 415 not a type we take,
    422 unreadable or a pixel bomb, 429 over the hourly budget.
    """

    def __init__(self, status, fields):
        super().__init__(" ".join(fields.values()), fields)
        self.status = status


class StorageError(ServiceError):
    status = 503


@dataclass
class Incoming:
    """One file as a request brought it: what its sender called it, and its bytes (a file object)."""

    filename: str
    stream: object
    size: int = 0
    sniffed: images.Sniffed | None = None


@dataclass
class Prepared:
    """A checked and stored file, waiting for its row."""

    key: str
    thumbnail_key: str | None
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None


def field(index):
    return f"files[{index}]"


def human_size(size):
    if size < 1024:
        return f"{size} bytes"
    if size < MB:
        return f"{size / 1024:.0f} KB"
    return f"{size / MB:.1f} MB".replace(".0 MB", " MB")


def check(files, budget_key=None):
    """Refuse what we will not store, before anything is decoded or written.

    ``budget_key`` (the shopper's session) counts the files and bytes against the
    hourly budget; admins have none.
    """
    config = current_app.config
    most = config["CHAT_ATTACHMENTS_PER_MESSAGE"]
    if len(files) > most:
        raise ValidationError(
            f"You can attach at most {most} files to one message.", {"files": f"at most {most} files"}
        )
    largest = config["CHAT_ATTACHMENT_MAX_BYTES"]
    problems, status = {}, None
    for index, incoming in enumerate(files):
        name = clean_filename(incoming.filename) or "This file"
        incoming.stream.seek(0, os.SEEK_END)
        incoming.size = incoming.stream.tell()
        incoming.stream.seek(0)
        try:
            if incoming.size > largest:
                raise images.Refused(413, f"is larger than {human_size(largest)} (files can be at most that)")
            if incoming.size == 0:
                raise images.Refused(422, "is empty")
            incoming.sniffed = images.sniff(incoming.stream)
        except images.Refused as refused:
            problems[field(index)] = f"{name} {refused.reason}."
            status = status or refused.status
    if problems:
        raise FilesRefused(status, problems)
    if budget_key is not None:
        _spend_budget(budget_key, files)


def receive(files, budget_key=None):
    """``check`` then ``store``: the files of a send, ready to become its attachments.

    Called before anything of the send is written (no transaction waits on it).
    """
    if not files:
        return []
    check(files, budget_key)
    return store(files)


def store(files):
    """Re-encode and store checked files; returns their ``Prepared`` (nothing is left stored on failure)."""
    config = current_app.config
    prepared = []
    try:
        for index, incoming in enumerate(files):
            prepared.append(_store_one(incoming, index, config))
    except BaseException:
        discard(prepared)
        raise
    return prepared


def _store_one(incoming, index, config):
    target = storage.current()
    key = storage.new_key()
    if incoming.sniffed.is_pdf:
        content_type, extension = images.PDF
        _put(target, key, incoming.stream, content_type)
        return Prepared(
            key, None, clean_filename(incoming.filename, extension), content_type, incoming.size, None, None
        )
    try:
        clean = images.off_loop(
            config["CHAT_IMAGE_THREADS"], images.reencode, incoming.stream, config["CHAT_IMAGE_MAX_SIDE"]
        )
    except images.Refused as refused:
        name = clean_filename(incoming.filename) or "This file"
        raise FilesRefused(refused.status, {field(index): f"{name} {refused.reason}."}) from None
    thumbnail_key = key
    _put(target, key, io.BytesIO(clean.data), clean.content_type)
    if clean.thumbnail is not None:
        thumbnail_key = f"{key}.thumb{clean.thumbnail_extension}"
        try:
            _put(target, thumbnail_key, io.BytesIO(clean.thumbnail), THUMBNAIL_TYPES[clean.thumbnail_extension])
        except BaseException:
            _delete_quietly([key])
            raise
    return Prepared(
        key,
        thumbnail_key,
        clean_filename(incoming.filename, clean.extension),
        clean.content_type,
        len(clean.data),
        clean.width,
        clean.height,
    )


THUMBNAIL_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}


def _put(target, key, fileobj, content_type):
    try:
        target.put(key, fileobj, content_type)
    except storage.StorageUnavailable:
        log.warning("attachment storage unavailable while storing a file")
        raise StorageError("We could not store your file just now. Please try again in a moment.") from None


def attach(message, prepared):
    """The rows for stored files, in ``message``'s transaction (committed with it)."""
    for position, item in enumerate(prepared):
        message.attachments.append(
            MessageAttachment(
                inquiry_id=message.inquiry_id,
                position=position,
                storage_key=item.key,
                thumbnail_key=item.thumbnail_key,
                filename=item.filename,
                content_type=item.content_type,
                size=item.size,
                width=item.width,
                height=item.height,
                created_at=message.created_at,
            )
        )


def discard(prepared):
    """Delete the objects of files whose message was not stored (best effort: the sweep gets the rest)."""
    _delete_quietly(key for item in prepared for key in _keys(item.key, item.thumbnail_key))


def _keys(key, thumbnail_key):
    return [key] + ([thumbnail_key] if thumbnail_key and thumbnail_key != key else [])


def _delete_quietly(keys):
    keys = list(keys)
    if not keys:
        return
    try:
        storage.current().delete(keys)
    except Exception:  # noqa: BLE001 - an object left behind is an orphan for the sweep
        log.warning("could not delete %d attachment objects now; the sweep will", len(keys))


def clean_filename(name, extension=None):
    """A sender's file name as we show it: its last path part, printable, at most
    FILENAME_LENGTH characters, with the extension of what we stored (None: as sent)."""
    name = unicodedata.normalize("NFC", name if isinstance(name, str) else "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Control and format characters go (a right-to-left override could make "gpj.exe" read as ".exe").
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    if extension is None:
        return " ".join(name.split()).strip(". ")[:FILENAME_LENGTH]
    stem = " ".join(os.path.splitext(name)[0].split()).strip(". ")
    stem = stem[: FILENAME_LENGTH - len(extension)] or ("photo" if extension != ".pdf" else "document")
    return stem + extension


# -- the hourly budget ------------------------------------------------------------


def _spend_budget(key, files):
    """Count the files and bytes against the sender's hourly budget (Flask-Limiter's storage,
    shared through Redis when it is set); the files past it are refused with 429."""
    from limits import RateLimitItemPerHour

    from ..extensions import limiter

    config = current_app.config
    if not config.get("RATELIMIT_ENABLED", True):
        return
    count_limit = RateLimitItemPerHour(config["CHAT_ATTACHMENT_FILES_PER_HOUR"])
    byte_limit = RateLimitItemPerHour(config["CHAT_ATTACHMENT_BYTES_PER_HOUR"])
    problems = {}
    try:
        strategy = limiter.limiter
        # Each file with those before it: the first one past the budget and the rest are named.
        total = 0
        for index, incoming in enumerate(files):
            total += incoming.size
            if not strategy.test(count_limit, "chat-files", key, cost=index + 1):
                problems[field(index)] = (
                    f"You have sent {config['CHAT_ATTACHMENT_FILES_PER_HOUR']} files in the last hour: "
                    "please wait a while before sending more."
                )
            elif not strategy.test(byte_limit, "chat-file-bytes", key, cost=total):
                problems[field(index)] = (
                    f"You have sent {human_size(config['CHAT_ATTACHMENT_BYTES_PER_HOUR'])} of files in the "
                    "last hour: please wait a while before sending more."
                )
        if not problems:
            strategy.hit(count_limit, "chat-files", key, cost=len(files))
            strategy.hit(byte_limit, "chat-file-bytes", key, cost=total)
    except Exception:  # noqa: BLE001 - the limit's storage (Redis) is down: sends go on
        log.warning("upload budget storage unavailable; files not counted")
        return
    if problems:
        raise FilesRefused(429, problems)


# -- links ----------------------------------------------------------------------

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
        raise Forbidden("This link has expired: open the conversation again to see the file.") from None
    except (BadSignature, ValueError, TypeError):
        raise Forbidden("This link is not valid.") from None
    audience = {code: name for name, code in AUDIENCES.items()}.get(value[2] if len(value) == 3 else None)
    if value[0] != attachment_id or audience is None:
        raise Forbidden("This link is not valid.")
    attachment = db.session.get(MessageAttachment, attachment_id)
    if attachment is None or attachment.inquiry_id != value[1]:
        raise NotFound("This file is no longer available.")
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


# -- what a message with files says where only words fit -------------------------


def summary(attachments):
    """ "photo", "3 photos", "manual.pdf", "2 files": for list previews, notifications and mails."""
    if not attachments:
        return ""
    if all(a.is_image for a in attachments):
        return "photo" if len(attachments) == 1 else f"{len(attachments)} photos"
    if len(attachments) == 1:
        return attachments[0].filename
    return f"{len(attachments)} files"


def in_words(attachments):
    """ "a photo", "2 photos", "a file", "3 files": what a mail says was sent (never a name, never a link)."""
    if not attachments:
        return ""
    if all(a.is_image for a in attachments):
        return "a photo" if len(attachments) == 1 else f"{len(attachments)} photos"
    return "a file" if len(attachments) == 1 else f"{len(attachments)} files"


def preview(message, clip=True):
    """A message in one line: its text, with "📎 photo" before it when files came with it
    (``clip`` False: without the 📎, for a page that draws its own)."""
    note = summary(message.attachments)
    if not note:
        return message.message_text
    return ("📎 " if clip else "") + note + (f" · {message.message_text}" if message.message_text else "")


# -- erasing, exporting, sweeping ------------------------------------------------


def keys_of(inquiry_ids):
    """Every stored key of these conversations' files (thumbnails included)."""
    if not inquiry_ids:
        return []
    rows = db.session.execute(
        sa.select(MessageAttachment.storage_key, MessageAttachment.thumbnail_key).where(
            MessageAttachment.inquiry_id.in_(list(inquiry_ids))
        )
    ).all()
    return [key for row in rows for key in _keys(*row)]


_PENDING = "chat_attachment_deletions"


def delete_after_commit(keys):
    """Delete these objects once the transaction that removes their rows has committed
    (never before: a failed erase keeps its files); what fails then is left to the sweep."""
    if keys:
        db.session.info.setdefault(_PENDING, []).extend(keys)


@sa_event.listens_for(Session, "after_commit")
def _deletions_after_commit(session):
    keys = session.info.pop(_PENDING, None)
    if keys:
        _delete_quietly(keys)


@sa_event.listens_for(Session, "after_rollback")
def _no_deletions_after_rollback(session):
    session.info.pop(_PENDING, None)


def of_inquiries(inquiry_ids):
    """The conversations' attachments, by message id (for the export)."""
    found = {}
    if inquiry_ids:
        for attachment in db.session.scalars(
            sa.select(MessageAttachment)
            .where(MessageAttachment.inquiry_id.in_(list(inquiry_ids)))
            .order_by(MessageAttachment.message_id, MessageAttachment.position)
        ):
            found.setdefault(attachment.message_id, []).append(attachment)
    return found


SWEEP_BATCH = 500


def sweep(now=None):
    """Delete stored objects that no row names and that are older than
    ``ATTACHMENT_ORPHAN_MINUTES`` (younger ones may belong to a send in flight).
    Returns how many were deleted."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=current_app.config["ATTACHMENT_ORPHAN_MINUTES"])
    target = storage.current()
    deleted, batch = 0, []
    for key, modified in target.listing():
        if modified <= cutoff:
            batch.append(key)
        if len(batch) >= SWEEP_BATCH:
            deleted += _delete_unnamed(target, batch)
            batch = []
    if batch:
        deleted += _delete_unnamed(target, batch)
    db.session.rollback()  # end the read transaction
    return deleted


def _delete_unnamed(target, keys):
    named = set(
        db.session.scalars(sa.select(MessageAttachment.storage_key).where(MessageAttachment.storage_key.in_(keys)))
    ) | set(
        db.session.scalars(sa.select(MessageAttachment.thumbnail_key).where(MessageAttachment.thumbnail_key.in_(keys)))
    )
    orphans = [key for key in keys if key not in named]
    if orphans:
        target.delete(orphans)
    return len(orphans)
