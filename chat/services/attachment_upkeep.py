"""A conversation's files when it goes (erase, purge, retention), its export, and the sweep
of stored files no row names (sends that never committed, deletions that failed).

The database is the truth: objects are deleted after the rows that named them have
committed, and anything left behind is an orphan the sweep finds.
"""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from .. import storage
from ..extensions import db
from ..models import MessageAttachment, utcnow
from .attachments import delete_quietly, stored_keys


def keys_of(inquiry_ids):
    """Every stored key of these conversations' files (thumbnails included)."""
    if not inquiry_ids:
        return []
    rows = db.session.execute(
        sa.select(MessageAttachment.storage_key, MessageAttachment.thumbnail_key).where(
            MessageAttachment.inquiry_id.in_(list(inquiry_ids))
        )
    ).all()
    return [key for row in rows for key in stored_keys(*row)]


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
        delete_quietly(keys)


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
