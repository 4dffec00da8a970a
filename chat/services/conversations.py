"""Conversations: customer messages, history, unread counts, read marks, email."""

import functools
from dataclasses import dataclass

import sqlalchemy as sa
from flask import g, has_request_context
from flask_babel import gettext
from sqlalchemy import orm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..extensions import db
from ..live import events, records
from ..models import Product, ProductInquiry, ProductMessage, utcnow
from . import (
    assignment,
    attachments,
    list_rows,
    notifications,
    push,
    rows,
    search,
    shoppers,
    validation,
    webhook_events,
)
from .errors import Conflict, NotFound

REOPENED = "Reopened: the customer wrote again"


def get_product(product_id):
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound(gettext("No such product."), {"product_id": gettext("unknown product")})
    return product


def get_inquiry(inquiry_id):
    inquiry = db.session.get(ProductInquiry, inquiry_id)
    if inquiry is None:
        raise NotFound(gettext("No such inquiry."), {"inquiry_id": gettext("unknown inquiry")})
    return inquiry


def find_inquiry(product_id, session_id):
    """The session's inquiry about the product, or None before the first message."""
    return db.session.scalar(sa.select(ProductInquiry).filter_by(product_id=product_id, session_id=session_id))


def _inquiry_for_sending(product_id, session_id):
    """The session's inquiry about the product, its row locked until commit (see
    ``lock_for_message``), made with the first message; returns (inquiry, made here).

    Called after the shopper's row was written (the send's first write). On SQLite that
    write holds the database's one writer lock, so a plain read here already sees the
    latest committed row and nobody can change it before the commit: one read. On MariaDB
    a locking read that finds nothing would lock the gap where the row goes, and two first
    messages about one product (other sessions) would deadlock on their INSERTs: a plain
    read, then the found row locked by its key.
    """
    query = (
        sa.select(ProductInquiry)
        .filter_by(product_id=product_id, session_id=session_id)
        # Its columns only: with the joined product and site, their rows would be locked too.
        .options(orm.lazyload(ProductInquiry.product))
    )
    single_writer = db.session.get_bind().dialect.name == "sqlite"
    if single_writer:
        inquiry = db.session.scalar(query.execution_options(populate_existing=True))
    else:
        inquiry = db.session.scalar(query)
        if inquiry is not None:
            inquiry = lock_for_message(inquiry.id)
    if inquiry is not None:
        return inquiry, False
    # Another request of the same session (a double click) may race to make it.
    now = utcnow()
    made = rows.insert_if_absent(
        ProductInquiry, product_id=product_id, session_id=session_id, created_at=now, updated_at=now
    )
    if made and has_request_context():
        g.chat_inquiry_created = True  # counted by the per-IP limit on new conversations
    # A locking read: on MariaDB it sees the other request's committed row.
    locked = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(locked), made


def lock_for_message(inquiry_id):
    """The inquiry, its row locked until commit: call it before adding a message to it.

    A message's id is handed out at its INSERT, but transactions commit in any order, so
    without this a reader could see message n+1 of an inquiry while n is still on its
    way, and a cursor (a stream's Last-Event-ID, a page's last id, a poll's ``after``)
    would pass n for good. Every writer of an inquiry's messages (the customer, answers,
    notes, status lines) holds the row from before the INSERT to the COMMIT, so one
    inquiry's messages commit in id order and whoever sees message n sees every earlier
    one. SQLite writes one transaction at a time anyway (FOR UPDATE is not rendered there).

    Raises NotFound.
    """
    inquiry = get_inquiry(inquiry_id)
    # A locking read sees the latest committed row, not this transaction's snapshot.
    # Its columns only: with the joined product and site, their rows would be locked too.
    try:
        db.session.refresh(inquiry, _INQUIRY_COLUMNS, with_for_update=True)
    except sa.exc.InvalidRequestError:  # erased since this request read it
        raise NotFound(gettext("No such inquiry."), {"inquiry_id": gettext("unknown inquiry")}) from None
    return inquiry


_INQUIRY_COLUMNS = [column.key for column in sa.inspect(ProductInquiry).column_attrs]


@dataclass
class SendResult:
    message: ProductMessage
    created: bool
    new_inquiry: bool = False  # the message opened the conversation (the inquiry was made for it)


def send_customer_message(product_id, session_id, text, client_msg_id=None, files=(), language=None):
    """Store a customer's message; a repeated client id returns the first one (with its files).

    ``files`` were checked and stored before (``attachments.receive``): they become
    the message's attachments, in the same transaction; when no new message is
    stored (a bad input, a retry, an outage) their objects are deleted again. The
    inquiry (on the first message), the shopper row, the message and its files'
    rows are written in one transaction: nothing is half-written. ``language`` (the chat's,
    one of chat.i18n's codes) is kept with the shopper: their emails speak it.
    """
    return _kept_or_discarded(
        files, _store_customer_message, product_id, session_id, text, client_msg_id, files, language
    )


def _kept_or_discarded(prepared, store, *args):
    """``store(*args)``; files stored for it are deleted unless it stored a new message."""
    try:
        result = store(*args)
    except BaseException:
        attachments.discard(prepared)
        raise
    if not result.created:
        attachments.discard(prepared)  # the message was stored before, with its own files
    return result


def _store_customer_message(product_id, session_id, text, client_msg_id, prepared, language=None):
    text = validation.message_text(text, required=not prepared)
    client_msg_id = validation.client_msg_id(client_msg_id)
    product = get_product(product_id)
    if client_msg_id:
        existing = _sent_before(product_id, session_id, client_msg_id)
        if existing is not None:
            return _announced_again(existing, existing.inquiry)
    shopper = shoppers.ensure(session_id, product.site_id, language=language)
    # Locked after the shopper's row (its update is flushed first), the order in which
    # an email change takes the two.
    inquiry, made = _inquiry_for_sending(product_id, session_id)
    inquiry_id = inquiry.id
    message = ProductMessage(
        inquiry_id=inquiry_id, sender_type="customer", message_text=text, client_msg_id=client_msg_id
    )
    reopened = inquiry.status in ("resolved", "closed")
    status_before = inquiry.status
    # An inquiry is made with its first message (and erased with all of them): one made
    # here, or one that ever had a message (last_message_at), needs no count.
    first_message = made or (inquiry.last_message_at is None and message_count(inquiry_id) == 0)
    now = utcnow()
    message.created_at = now
    db.session.add(message)
    attachments.attach(message, prepared)
    try:
        # The message alone first: its id then goes into the inquiry's one UPDATE (at the commit).
        db.session.flush()
        if reopened:
            # A customer writing again reopens the conversation (a note tells the admins).
            inquiry.status = "pending"
        inquiry.updated_at = inquiry.last_message_at = now
        if inquiry.waiting_since is None:
            inquiry.waiting_since = now
        if first_message and notifications.sounds_urgent(text):
            inquiry.priority = "high"
        if first_message:
            shoppers.apply_email(inquiry, shopper)
        inquiry.refresh_queue_key()
        search.index_message(inquiry_id, _searchable(text, prepared))
        besides = []  # workflow rows written with the message (admins see them after it)
        if reopened:
            besides.append(
                ProductMessage(
                    inquiry_id=inquiry_id,
                    sender_type="admin",
                    message_type="system",
                    system_event="status",
                    visibility="internal",
                    message_text=REOPENED,
                    created_at=now,
                )
            )
            db.session.add(besides[-1])
            search.index_message(inquiry_id, REOPENED)
        if first_message:
            # Before the urgent mail: it then goes to the assignee alone.
            besides.extend(assignment.on_new_inquiry(inquiry, now))
        follows = _followed(inquiry, message, besides)
        if first_message and inquiry.priority == "high":
            notifications.queue_high_priority(inquiry, text)
        if first_message:
            webhook_events.inquiry_created(inquiry)
        webhook_events.message_created(message, inquiry)
        push.queue_for_message(message, inquiry, first=first_message)
        if reopened:
            webhook_events.inquiry_updated(inquiry, "status", status_before, inquiry.status)
            from . import inquiries  # it imports this module

            inquiries.controls_changed(inquiry)
        announce_message(message, inquiry, first=first_message, follows=follows)
        _commit_keeping(message)
    except IntegrityError:
        # The same client id raced in from a retry: answer with the stored one.
        return _replay(inquiry_id, client_msg_id)
    return SendResult(message, created=True, new_inquiry=made)


def _followed(inquiry, message, besides=()):
    """What a live event about ``message`` names as the messages before it: (the inquiry's
    newest before it, the newest a customer could see before it). Then the inquiry's newest
    ids and its counts move past it and past ``besides`` (rows written with it, flushed here
    for their ids).

    Call it after the flush that gave ``message`` its id, with the inquiry locked. A stream
    that showed exactly the message named renders the event as it is, without reading
    (records.MessageStored); None makes it read: admins see ``besides`` after the message.
    """
    before, before_public = inquiry.last_message_id, inquiry.last_public_message_id
    if besides:
        db.session.flush()
    for row in (message, *besides):
        inquiry.last_message_id = max(inquiry.last_message_id or 0, row.id)
        if row.visibility == "public":
            inquiry.last_public_message_id = max(inquiry.last_public_message_id or 0, row.id)
        # The list's counts, in the same UPDATE (a customer's message comes unread).
        inquiry.message_count += 1
        inquiry.unread_count += row.sender_type == "customer"
    return (None if besides else before), before_public


def _commit_keeping(message):
    """Commit, and keep the new message and its files as written: the sender's answer shows
    them without reading them back (the commit expires every row). A mark that lands
    right after the commit reaches the sender as a live event, as any later one does."""
    kept = [message, *message.attachments]  # set by attachments.attach: no query
    written = [(row, _as_inserted(row)) for row in kept]
    db.session.commit()
    for row, values in written:
        if sa.inspect(row).session is not None:
            for key, value in values.items():
                set_committed_value(row, key, value)
    set_committed_value(message, "attachments", kept[1:])


def _as_inserted(row):
    """A row's columns as this transaction inserted it: the values it was given, and NULL
    for a column given none that the database fills with nothing (no server default)."""
    state = sa.inspect(row)
    values = {}
    for attribute in sa.inspect(type(row)).column_attrs:
        key, column = attribute.key, attribute.columns[0]
        if key in state.dict:
            values[key] = state.dict[key]
        elif column.server_default is None and column.server_onupdate is None and not column.primary_key:
            values[key] = None
    return values


def _searchable(text, prepared):
    """What the admin search finds a message by: its words and its files' names."""
    return " ".join([text] + [item.filename for item in prepared])


def _announced_again(message, inquiry):
    """A retry of a stored message. The process that stored it may have died (or lost
    Redis) between its commit and its publish, and then no open stream would ever
    hear of it: say it again. Streams and the widget drop what they already show."""
    announce_message(message, inquiry, again=True)
    db.session.commit()  # nothing to write: sends the events (after commit)
    return SendResult(message, created=False)


def _replay(inquiry_id, client_msg_id):
    """After a unique-key race: the stored message, read in a fresh transaction
    (MariaDB's repeatable-read snapshot would not show the other request's row)."""
    db.session.rollback()
    existing = _by_client_id(inquiry_id, client_msg_id) if client_msg_id else None
    if existing is None:
        raise Conflict(gettext("The conversation changed while this was sent; please send it again."))
    return SendResult(existing, created=False)


def _sent_before(product_id, session_id, client_msg_id):
    """The session's message about the product with this client id, if stored before (a retry)."""
    return db.session.scalar(
        sa.select(ProductMessage)
        .join(ProductInquiry, ProductInquiry.id == ProductMessage.inquiry_id)
        .where(
            ProductInquiry.product_id == product_id,
            ProductInquiry.session_id == session_id,
            ProductMessage.client_msg_id == client_msg_id,
        )
    )


def _by_client_id(inquiry_id, client_msg_id):
    return db.session.scalar(sa.select(ProductMessage).filter_by(inquiry_id=inquiry_id, client_msg_id=client_msg_id))


def add_admin_message(
    inquiry_id,
    text,
    admin_id=None,
    message_type="text",
    system_event=None,
    client_msg_id=None,
    visibility="public",
    commit=True,
    files=(),
):
    """Store an answer (or a note) from the shop in an inquiry; returns a SendResult.

    A repeated client id returns the stored answer, however many retries race.
    ``files`` (answers only) become its attachments, as a customer's do (see
    ``send_customer_message``).
    """
    return _kept_or_discarded(
        files,
        _store_admin_message,
        inquiry_id,
        text,
        admin_id,
        message_type,
        system_event,
        client_msg_id,
        visibility,
        commit,
        files,
    )


def _store_admin_message(
    inquiry_id, text, admin_id, message_type, system_event, client_msg_id, visibility, commit, prepared
):
    if message_type == "text":
        text = validation.message_text(text, required=not prepared)
    client_msg_id = validation.client_msg_id(client_msg_id)
    inquiry = lock_for_message(inquiry_id)
    if client_msg_id:
        existing = _by_client_id(inquiry.id, client_msg_id)
        if existing is not None:
            return _announced_again(existing, inquiry)
    now = utcnow()
    message = ProductMessage(
        inquiry_id=inquiry.id,
        sender_type="admin",
        sender_id=admin_id,
        message_text=text,
        message_type=message_type,
        system_event=system_event,
        client_msg_id=client_msg_id,
        created_at=now,
        visibility=visibility,
    )
    db.session.add(message)
    attachments.attach(message, prepared)
    inquiry_id = inquiry.id  # read before a failed flush leaves the session unusable
    try:
        # The message alone first: its id then goes into the inquiry's one UPDATE (at the commit).
        db.session.flush()
    except IntegrityError:
        return _replay(inquiry_id, client_msg_id)
    if message_type != "note":
        inquiry.updated_at = now
    else:
        # A private note leaves the inquiry as customers see it (its updated_at) alone, though
        # the inquiry's newest id moves (the column's onupdate would stamp it).
        inquiry.updated_at = ProductInquiry.updated_at
    if message_type == "text":
        # An answer ends the wait.
        inquiry.last_message_at = now
        inquiry.waiting_since = None
    inquiry.refresh_queue_key()
    follows = _followed(inquiry, message)
    search.index_message(inquiry_id, _searchable(text, prepared))
    announce_message(message, inquiry, follows=follows)
    webhook_events.message_created(message, inquiry)
    if commit:
        db.session.commit()
    return SendResult(message, created=True)


def announce_message(message, inquiry, again=False, first=None, follows=None):
    """After commit: the customer's tabs, the inquiry's viewers, the admin list and every
    admin page's badge and notifications hear of it (``again``: the badge, not a second
    notification; ``first``: whether it is the customer's first message; ``follows``: what
    ``_followed`` returned, so streams render it from the event)."""

    stored = _stored(message, inquiry, follows)
    # Internal rows (workflow and private notes) never go to the customer's channel at all.
    channels = ((events.customer_channel(inquiry.session_id),) if message.visibility == "public" else ()) + (
        events.inquiry_channel(inquiry.id),
    )
    for channel in channels:
        events.publish_after_commit(db.session, channel, stored)
    site_id = inquiry.product.site_id
    # The row as it is now; a new text message is its newest (no read), a retry's may not be.
    last = message if message.message_type == "text" and not again else list_rows.NOT_READ
    row = list_rows.record(inquiry, "message", last, message)
    events.publish_to_admins(db.session, events.ADMIN_LIST, row, site_id)
    events.publish_waiting(db.session, site_id, message.id)
    if not again and message.sender_type == "customer" and message.message_type == "text":
        wrote = records.CustomerWrote(
            inquiry.id,
            message.id,
            "new" if first else "followup",
            inquiry.product.name,
            preview_line(message),
        )
        events.publish_to_admins(db.session, events.ADMIN_NOTICES, wrote, site_id)


def _stored(message, inquiry, follows):
    """The MESSAGE record; with what the message shows when streams can render it from the
    record: a text message or note without files, whose predecessors are known."""
    shows = follows is not None and message.message_type in ("text", "note") and not message.attachments
    if not shows:
        return records.MessageStored(inquiry.id, inquiry.product_id, message.id, message.sender_type)
    sender = message.sender if message.sender_type == "admin" else None
    return records.MessageStored(
        inquiry.id,
        inquiry.product_id,
        message.id,
        message.sender_type,
        after_id=follows[0],
        after_public_id=follows[1],
        message_type=message.message_type,
        visibility=message.visibility,
        text=message.message_text or "",
        created_at=message.created_at.isoformat(),
        client_msg_id=message.client_msg_id,
        sender_name=sender.name if sender is not None else None,
        public_sender_name=message.public_sender_name if message.visibility == "public" else None,
    )


def announce_typing(inquiry, sender):
    """``sender`` ("customer" or "admin") is typing: the other side sees it for a few
    seconds (ephemeral: no row, published at once)."""
    channel = (
        events.inquiry_channel(inquiry.id) if sender == "customer" else events.customer_channel(inquiry.session_id)
    )
    events.publish_now(channel, records.Typing(inquiry.id, inquiry.product_id, sender))


PREVIEW_CHARACTERS = 120


def preview_line(message, limit=PREVIEW_CHARACTERS):
    """The message (or its files) as one line of at most ``limit`` characters."""
    line = " ".join((attachments.preview(message) or "").split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass
class Page:
    messages: list
    has_older: bool


def list_messages(inquiry_id, before=None, after=None, limit=30, viewer="customer"):
    """A page of messages, oldest first.

    Keyset pagination on the id: with ``after`` the messages newer than it
    (for polling and reconnects); otherwise the newest ``limit`` messages,
    or the ``limit`` just older than ``before`` (scrolling back).
    """
    if inquiry_id is None:
        return Page([], False)
    query = sa.select(ProductMessage).where(ProductMessage.inquiry_id == inquiry_id)
    if viewer == "customer":
        query = query.where(customer_visible())
    else:
        # Admins see who answered: load the senders in one query.
        query = query.options(sa.orm.selectinload(ProductMessage.sender))
    if after is not None:
        rows = db.session.scalars(query.where(ProductMessage.id > after).order_by(ProductMessage.id).limit(limit)).all()
        return Page(list(rows), False)
    if before is not None:
        query = query.where(ProductMessage.id < before)
    rows = db.session.scalars(query.order_by(ProductMessage.id.desc()).limit(limit + 1)).all()
    return Page(list(reversed(rows[:limit])), len(rows) > limit)


def customer_visible():
    """The one condition for what a customer may see: rows meant for both sides."""
    return ProductMessage.visibility == "public"


def message_count(inquiry_id, viewer="admin"):
    """How many messages the viewer can see (a customer's count never reveals internal rows)."""
    query = sa.select(sa.func.count(ProductMessage.id)).where(ProductMessage.inquiry_id == inquiry_id)
    if viewer == "customer":
        query = query.where(customer_visible())
    return db.session.scalar(query)


def _other_side(reader):
    return {"customer": "admin", "admin": "customer"}[reader]


def unread_count(inquiry_id, reader="customer"):
    """Messages from the other side that ``reader`` has not read yet."""
    if inquiry_id is None:
        return 0
    return db.session.scalar(
        sa.select(sa.func.count(ProductMessage.id)).where(
            ProductMessage.inquiry_id == inquiry_id,
            ProductMessage.sender_type == _other_side(reader),
            ProductMessage.message_type == "text",
            ProductMessage.is_read.is_(False),
        )
    )


def _unread_answers():
    return sa.and_(
        ProductMessage.sender_type == "admin",
        ProductMessage.message_type == "text",
        ProductMessage.is_read.is_(False),
        customer_visible(),
    )


def unread_across(session_id, site_id):
    """Answers the shopper has not read, in all their conversations on a site (the launcher's badge)."""
    if session_id is None:
        return 0
    return db.session.scalar(
        sa.select(sa.func.count(ProductMessage.id))
        .join(ProductInquiry, ProductInquiry.id == ProductMessage.inquiry_id)
        .join(Product, Product.id == ProductInquiry.product_id)
        .where(ProductInquiry.session_id == session_id, Product.site_id == site_id, _unread_answers())
    )


@dataclass
class Question:
    inquiry: ProductInquiry
    unread: int
    last_text: str | None


def questions_of(session_id, site_id, limit=20):
    """The shopper's conversations on a site, most recent first, with unread counts ("Your questions")."""
    inquiries = db.session.scalars(
        sa.select(ProductInquiry)
        .join(Product, Product.id == ProductInquiry.product_id)
        .where(ProductInquiry.session_id == session_id, Product.site_id == site_id)
        .order_by(ProductInquiry.updated_at.desc())
        .limit(limit)
    ).all()
    ids = [i.id for i in inquiries]
    unread, last = {}, {}
    if ids:
        unread = dict(
            db.session.execute(
                sa.select(ProductMessage.inquiry_id, sa.func.count(ProductMessage.id))
                .where(ProductMessage.inquiry_id.in_(ids), _unread_answers())
                .group_by(ProductMessage.inquiry_id)
            ).all()
        )
        last_ids = db.session.scalars(
            sa.select(sa.func.max(ProductMessage.id))
            .where(ProductMessage.inquiry_id.in_(ids), ProductMessage.message_type == "text", customer_visible())
            .group_by(ProductMessage.inquiry_id)
        ).all()
        last = {
            m.inquiry_id: attachments.preview(m)
            for m in db.session.scalars(sa.select(ProductMessage).where(ProductMessage.id.in_(last_ids)))
        }
    return [Question(i, unread.get(i.id, 0), last.get(i.id)) for i in inquiries]


def marks_since(inquiry_id, sender_type, since):
    """The sender's messages whose delivered or read mark moved after ``since`` (a polling cursor)."""
    if inquiry_id is None or since is None:
        return []
    return db.session.scalars(
        sa.select(ProductMessage)
        .where(
            ProductMessage.inquiry_id == inquiry_id,
            ProductMessage.sender_type == sender_type,
            ProductMessage.message_type == "text",
            sa.or_(ProductMessage.delivered_at > since, ProductMessage.read_at > since),
        )
        .order_by(ProductMessage.id)
    ).all()


def _mark(inquiry_id, recipient, state, message_ids=None, commit=True):
    """Set the delivered or read mark on the other side's messages to ``recipient``."""
    if inquiry_id is None:
        return []
    marked = _mark_many({(inquiry_id, recipient): message_ids}, state)
    if not marked:
        return []  # nothing to mark: no commit (it would expire loaded objects)
    if commit:
        db.session.commit()
    return marked[(inquiry_id, recipient)]


def _mark_many(marks, state):
    """``{(inquiry_id, recipient): message ids, or None for all}``: the other side's text
    messages to ``recipient`` without the ``state`` mark get it, in the caller's transaction
    (its commit publishes the marks, per inquiry). One SELECT and one UPDATE (two for read)
    whatever the number of inquiries. Returns ``{(inquiry_id, recipient): ids marked}``."""
    wanted = {key: None if ids is None else set(ids) for key, ids in marks.items() if ids is None or ids}
    found = _unmarked(wanted, state)
    ids = sorted(row.id for found_rows in found.values() for row in found_rows)
    if not ids:
        return {}
    now = utcnow()
    updated = db.session.execute(_mark_update(state), {"ids": ids, "now": now})
    if updated.rowcount < len(ids):
        # Some were erased meanwhile (an inquiry with its messages): no marks for them.
        kept = set()
        if updated.rowcount:
            # A locking read sees them gone (MariaDB's plain read keeps the first SELECT's snapshot).
            still = sa.select(ProductMessage.id).where(ProductMessage.id.in_(ids)).with_for_update()
            kept = set(db.session.scalars(still))
        found = {key: [row for row in found_rows if row.id in kept] for key, found_rows in found.items()}
        found = {key: found_rows for key, found_rows in found.items() if found_rows}
        ids = sorted(kept)
        if not ids:
            return {}
    _mark_loaded(ids, _mark_values(state, now))
    if state == "read":
        # Read implies delivered.
        db.session.execute(
            sa.update(ProductMessage)
            .where(ProductMessage.id.in_(ids), ProductMessage.delivered_at.is_(None))
            .values(delivered_at=now)
        )
    for (inquiry_id, recipient), found_rows in sorted(found.items()):
        _publish_marks(inquiry_id, recipient, state, found_rows)
    return {key: [row.id for row in found_rows] for key, found_rows in found.items()}


def _unmarked(wanted, state):
    """``_mark_many``'s rows in one SELECT: ``{(inquiry_id, recipient): rows}``, by id, with
    what the events need of the inquiry (its shopper, product and site): no second read."""
    shape, params = [], {}
    for recipient in ("admin", "customer"):
        of_side = {inquiry_id: ids for (inquiry_id, side), ids in wanted.items() if side == recipient}
        if not of_side:
            continue
        params[f"{recipient}_inquiries"] = list(of_side)
        with_ids = None not in of_side.values()
        if with_ids:
            params[f"{recipient}_ids"] = sorted(set().union(*of_side.values()))
        shape.append((recipient, with_ids))
    if not shape:
        return {}
    found = {}
    for row in db.session.execute(_unmarked_query(state, tuple(shape)), params):
        # The SELECT took each side's ids together: keep each id for its own inquiry only.
        key = (row.inquiry_id, _other_side(row.sender_type))
        if wanted[key] is None or row.id in wanted[key]:
            found.setdefault(key, []).append(row)
    return found


def _mark_values(state, now):
    return {"delivered_at": now} if state == "delivered" else {"is_read": True, "read_at": now}


@functools.cache
def _mark_update(state):
    """``_mark_many``'s UPDATE for ``state``, built once (as ``_unmarked_query``). The ORM
    cannot evaluate its WHERE over loaded messages (the ids come at execution), so it is
    told not to try, and ``_mark_loaded`` sets the mark on them instead."""
    return (
        sa.update(ProductMessage)
        .where(ProductMessage.id.in_(sa.bindparam("ids", expanding=True)))
        .values(**_mark_values(state, sa.bindparam("now")))
        .execution_options(synchronize_session=False)
    )


def _mark_loaded(ids, values):
    """The marks just stored, on the messages ``ids`` this session has loaded (a page that
    marks what it shows, then renders it, shows the new mark)."""
    identity_map = db.session.identity_map
    if not identity_map:
        return
    for message_id in ids:
        message = identity_map.get(identity_key(ProductMessage, message_id))
        if message is not None:
            for name, value in values.items():
                set_committed_value(message, name, value)


@functools.cache
def _unmarked_query(state, shape):
    """``_unmarked``'s SELECT for one shape (which sides, with or without message ids), built
    once, its lists as expanding parameters. The live streams' delivered marks run it every
    200 ms: building it and the UPDATE anew (some 40 SQL expression objects, and their cache
    keys) was half of a flush's instructions (docs/benchmarks.md, "the delivered marks' flush")."""
    column = ProductMessage.is_read if state == "read" else ProductMessage.delivered_at
    sides = []
    for recipient, with_ids in shape:
        condition = [
            ProductMessage.sender_type == _other_side(recipient),
            ProductMessage.inquiry_id.in_(sa.bindparam(f"{recipient}_inquiries", expanding=True)),
        ]
        if with_ids:
            condition.append(ProductMessage.id.in_(sa.bindparam(f"{recipient}_ids", expanding=True)))
        sides.append(sa.and_(*condition))
    return (
        sa.select(
            ProductMessage.id,
            ProductMessage.inquiry_id,
            ProductMessage.sender_type,
            ProductMessage.client_msg_id,
            ProductInquiry.session_id,
            ProductInquiry.product_id,
            Product.site_id,
        )
        .join(ProductInquiry, ProductInquiry.id == ProductMessage.inquiry_id)
        .join(Product, Product.id == ProductInquiry.product_id)
        .where(
            ProductMessage.message_type == "text",
            column.is_(False) if state == "read" else column.is_(None),
            sa.or_(*sides),
        )
        .order_by(ProductMessage.id)
    )


def _publish_marks(inquiry_id, recipient, state, found):
    """After commit, the events of one inquiry's messages (``found``, by id) that now show ``state``."""
    inquiry = found[0]  # session_id, product_id, site_id
    # Every one of them was unmarked (read implies delivered): all now show ``state``.
    marks = tuple((row.id, state, row.client_msg_id or "") for row in found)
    # The sender's side sees its marks move; the admin list sees unread counts change.
    sender_channel = (
        events.inquiry_channel(inquiry_id) if recipient == "customer" else events.customer_channel(inquiry.session_id)
    )
    events.publish_after_commit(
        db.session, sender_channel, records.Marks(inquiry_id, inquiry.product_id, recipient, state, marks)
    )
    if recipient == "customer" and state == "read":
        # The shopper's other tabs and pages: their unread badge moves too.
        events.publish_after_commit(
            db.session, events.customer_channel(inquiry.session_id), records.Unread(inquiry_id, inquiry.product_id)
        )
    if recipient == "admin" and state == "read":
        # The list shows the customer's unread messages; nothing else here changes it.
        list_rows.recount_unread(inquiry_id)
        changed = list_rows.record(list_rows.fresh(inquiry_id), "read")
        events.publish_to_admins(db.session, events.ADMIN_LIST, changed, inquiry.site_id)


def mark_read(inquiry_id, reader="customer", message_ids=None):
    """Mark the other side's messages read (all, or only ``message_ids``)."""
    return _mark(inquiry_id, reader, "read", message_ids)


def mark_delivered(inquiry_id, recipient="customer", message_ids=None, commit=True):
    """The recipient's stream or fetch received these messages (``commit=False``: in the
    caller's transaction, whose commit publishes the marks)."""
    return _mark(inquiry_id, recipient, "delivered", message_ids, commit)


def mark_delivered_many(marks):
    """``{(inquiry_id, recipient): message ids}`` delivered, in one transaction (the live
    streams' batch: ``chat/live/delivered.py``). Returns how many messages were marked."""
    marked = _mark_many(marks, "delivered")
    db.session.commit()
    return sum(len(ids) for ids in marked.values())
