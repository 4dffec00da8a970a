"""Files sent with messages: checked, re-encoded, stored, attached (signed links:
``attachment_links``; erasing, exporting and sweeping: ``attachment_upkeep``).

A send with files (``conversations`` calls these) goes:

1. ``check``: how many, how large, what they are (sniffed from the bytes), the
   sender's hourly budget; every problem of every file at once, nothing stored;
2. ``store``: images re-encoded off the gevent loop with their thumbnails, PDFs as
   given, all put in the storage under new random keys, before the message's
   transaction begins (no transaction waits on Pillow or S3); ``receive`` does both;
3. ``attach``: the rows, added to the message's transaction and committed with it;
4. ``discard``: the stored objects deleted again when that transaction does not
   commit (a bad input, a retry that found its message stored, an outage). A process
   that dies in between leaves objects no row names: the sweep deletes them later.
"""

import io
import logging
import os
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_decimal, gettext, ngettext
from sqlalchemy.orm.attributes import set_committed_value

from .. import storage
from ..models import MessageAttachment
from . import images
from .errors import ServiceError, ValidationError

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
    """ "812 bytes", "34 KB", "2.5 MB" in the page's language ("2,5 MB" in German)."""
    if size < 1024:
        return gettext("%(num)s bytes", num=format_decimal(size))
    if size < MB:
        return gettext("%(num)s KB", num=format_decimal(round(size / 1024)))
    return gettext("%(num)s MB", num=format_decimal(round(size / MB, 1)))


def _refusal(name, refused):
    """ "photo.jpg is empty.": why a file was refused, in the page's language (the reason
    comes from images.py, which may run off the request's thread)."""
    sentences = {
        images.NOT_ACCEPTED: gettext("%(name)s is not a picture (JPEG, PNG, WebP, GIF, HEIC) or a PDF."),
        images.TOO_MANY_PIXELS: gettext("%(name)s has too many pixels to be opened safely."),
        images.DAMAGED: gettext("%(name)s could not be read: the picture seems damaged."),
        EMPTY: gettext("%(name)s is empty."),
    }
    sentence = sentences.get(refused.reason)
    if sentence is None:
        return f"{name} {refused.reason}."
    return sentence % {"name": name}


EMPTY = "is empty"


def check(files, budget_key=None):
    """Refuse what we will not store, before anything is decoded or written.

    ``budget_key`` (the shopper's session) counts the files and bytes against the
    hourly budget; admins have none.
    """
    config = current_app.config
    most = config["CHAT_ATTACHMENTS_PER_MESSAGE"]
    if len(files) > most:
        raise ValidationError(
            ngettext(
                "You can attach at most %(num)s file to one message.",
                "You can attach at most %(num)s files to one message.",
                most,
            ),
            {"files": f"at most {most} files"},
        )
    largest = config["CHAT_ATTACHMENT_MAX_BYTES"]
    problems, status = {}, None
    for index, incoming in enumerate(files):
        name = clean_filename(incoming.filename) or gettext("This file")
        incoming.stream.seek(0, os.SEEK_END)
        incoming.size = incoming.stream.tell()
        incoming.stream.seek(0)
        try:
            if incoming.size > largest:
                problems[field(index)] = gettext(
                    "%(name)s is larger than %(size)s (files can be at most that).", name=name, size=human_size(largest)
                )
                status = status or 413
                continue
            if incoming.size == 0:
                raise images.Refused(422, EMPTY)
            incoming.sniffed = images.sniff(incoming.stream)
        except images.Refused as refused:
            problems[field(index)] = _refusal(name, refused)
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
        name = clean_filename(incoming.filename) or gettext("This file")
        raise FilesRefused(refused.status, {field(index): _refusal(name, refused)}) from None
    thumbnail_key = key
    _put(target, key, io.BytesIO(clean.data), clean.content_type)
    if clean.thumbnail is not None:
        thumbnail_key = f"{key}.thumb{clean.thumbnail_extension}"
        try:
            _put(target, thumbnail_key, io.BytesIO(clean.thumbnail), THUMBNAIL_TYPES[clean.thumbnail_extension])
        except BaseException:
            delete_quietly([key])
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
        raise StorageError(gettext("We could not store your file just now. Please try again in a moment.")) from None


def attach(message, prepared):
    """The rows for stored files, in ``message``'s transaction (committed with it)."""
    state = sa.inspect(message)
    if state.pending and "attachments" in state.unloaded:
        # A new message has no files yet: say so, and reading them later (a preview) costs no query.
        set_committed_value(message, "attachments", [])
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
    delete_quietly(key for item in prepared for key in stored_keys(item.key, item.thumbnail_key))


def stored_keys(key, thumbnail_key):
    """The storage keys of one file: the file and, when it has one of its own, its thumbnail."""
    return [key] + ([thumbnail_key] if thumbnail_key and thumbnail_key != key else [])


def delete_quietly(keys):
    """Delete these objects if the storage lets us now; what stays is an orphan for the sweep."""
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
                problems[field(index)] = gettext(
                    "You have sent %(num)s files in the last hour: please wait a while before sending more.",
                    num=format_decimal(config["CHAT_ATTACHMENT_FILES_PER_HOUR"]),
                )
            elif not strategy.test(byte_limit, "chat-file-bytes", key, cost=total):
                problems[field(index)] = gettext(
                    "You have sent %(size)s of files in the last hour: please wait a while before sending more.",
                    size=human_size(config["CHAT_ATTACHMENT_BYTES_PER_HOUR"]),
                )
        if not problems:
            strategy.hit(count_limit, "chat-files", key, cost=len(files))
            strategy.hit(byte_limit, "chat-file-bytes", key, cost=total)
    except Exception:  # noqa: BLE001 - the limit's storage (Redis) is down: sends go on
        log.warning("upload budget storage unavailable; files not counted")
        return
    if problems:
        raise FilesRefused(429, problems)


# -- what a message with files says where only words fit -------------------------


def describe(attachment):
    """What every description of a file says (the API adds links, an export its place in the zip)."""
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
    }


def summary(attachments):
    """ "photo", "3 photos", "manual.pdf", "2 files": for list previews, notifications and mails."""
    if not attachments:
        return ""
    count = len(attachments)
    if all(a.is_image for a in attachments):
        return ngettext("photo", "%(num)s photos", count)
    if count == 1:
        return attachments[0].filename
    return ngettext("%(num)s file", "%(num)s files", count)


def in_words(attachments):
    """ "a photo", "2 photos", "a file", "3 files": what a mail says was sent (never a name, never a link)."""
    if not attachments:
        return ""
    count = len(attachments)
    if all(a.is_image for a in attachments):
        return ngettext("a photo", "%(num)s photos", count)
    return ngettext("a file", "%(num)s files", count)


def preview(message, clip=True):
    """A message in one line: its text, with "📎 photo" before it when files came with it
    (``clip`` False: without the 📎, for a page that draws its own)."""
    note = summary(message.attachments)
    if not note:
        return message.message_text
    return ("📎 " if clip else "") + note + (f" · {message.message_text}" if message.message_text else "")
