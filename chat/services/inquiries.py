"""The shop's side: the inquiry queue, answering, status, priority, assignment.

The queue is "who owes the next word": an inquiry is *waiting* while its last
customer message has no later answer (``waiting_since`` is set), whatever its
status. Changes are compare-and-set updates, so racing requests leave one
note per real change.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext, lazy_gettext

from ..extensions import db
from ..live import events, records
from ..models import (
    INQUIRY_STATUSES,
    PRIORITIES,
    AdminPresence,
    Product,
    ProductInquiry,
    ProductMessage,
    User,
    utcnow,
)
from . import access, conversations, hours, list_rows, notifications, search, webhook_events
from .errors import BadParameter, ValidationError
from .rows import insert_if_absent
from .validation import choice, clean_text, parse_id

STATUS_LABELS = {"pending": "pending", "in_progress": "in progress", "resolved": "resolved", "closed": "closed"}
ASSIGNEE_FILTERS = ("mine", "unassigned", "everyone")
# The panel's views: "waiting" (the default: who owes the next word) and the statuses.
VIEWS = ("waiting",) + INQUIRY_STATUSES + ("all",)
RESOLVED_NOTICE = "Marked as answered — write again any time."


def queue_cursor(value):
    """The ``after`` cursor of a list page: a queue key (digits only), or None."""
    if value in (None, ""):
        return None
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 40):
        raise BadParameter(
            gettext("after must be the next_after value of a previous page."), {"after": gettext("a queue key")}
        )
    return value


SET = object()  # a filter condition: the column is not NULL


@dataclass
class Filters:
    status: str = "pending"  # a status, or "all"
    priority: str = ""
    assignee: str = "everyone"  # mine | unassigned | everyone | <admin id>
    product_id: int | None = None
    q: str = ""
    waiting: bool = False  # only inquiries whose customer waits for an answer

    @classmethod
    def parse(cls, args, default="pending"):
        """Validate list filters from a query string or JSON; unknown values are a 400.

        ``status=waiting`` (the panel's default view) means every status, waiting only;
        so does ``waiting=true`` without a status (not the default status: a follow-up
        on an inquiry in progress waits as much as a new one).
        """
        waiting = _flag(args, "waiting")
        status = choice(_arg(args, "status") or ("all" if waiting else default), VIEWS, "status")
        if status == "waiting":
            status, waiting = "all", True
        priority = _arg(args, "priority")
        if priority:
            choice(priority, PRIORITIES, "priority")
        assignee = _arg(args, "assignee") or "everyone"
        if assignee not in ASSIGNEE_FILTERS:
            try:
                assignee = str(parse_id(assignee, "assignee"))
            except BadParameter:
                raise BadParameter(
                    gettext("assignee must be mine, unassigned, everyone or an admin id."),
                    {"assignee": gettext("mine, unassigned, everyone or an admin id")},
                ) from None
        product = _arg(args, "product") or _arg(args, "product_id")
        product_id = parse_id(product, "product") if product else None
        q = clean_text(_arg(args, "q"), "q", required=False, what=lazy_gettext("Search"))[:100]
        return cls(status, priority, assignee, product_id, q, waiting)

    @property
    def view(self):
        return "waiting" if self.waiting and self.status == "all" else self.status

    def conditions(self, admin_id):
        """The filters but ``q``, as (column, value) pairs a shown inquiry's column equals
        (None: is NULL, SET: is not NULL): the one definition the list's SQL (``_filtered``)
        and its live rows (``matches``) both test."""
        out = []
        if self.waiting:
            out.append((ProductInquiry.waiting_since, SET))
        if self.status != "all":
            out.append((ProductInquiry.status, self.status))
        if self.priority:
            out.append((ProductInquiry.priority, self.priority))
        if self.assignee == "mine":
            out.append((ProductInquiry.assigned_admin_id, admin_id))
        elif self.assignee == "unassigned":
            out.append((ProductInquiry.assigned_admin_id, None))
        elif self.assignee not in ASSIGNEE_FILTERS:
            out.append((ProductInquiry.assigned_admin_id, int(self.assignee)))
        if self.product_id:
            out.append((ProductInquiry.product_id, self.product_id))
        return out

    def matches(self, row, admin_id, site_ids):
        """Whether the list of an admin (``admin_id``, working on ``site_ids``: None for all)
        shows ``row`` (an INQUIRY record: its fields are named as the columns), ``q`` aside:
        a search matches words of the messages, which only the database holds."""
        if site_ids is not None and row.site_id not in site_ids:
            return False
        for column, value in self.conditions(admin_id):
            have = getattr(row, column.key)
            if not (have is not None if value is SET else have == value):
                return False
        return True

    def as_args(self):
        args = {
            "status": self.view,
            "priority": self.priority,
            "assignee": self.assignee,
            "product": self.product_id or "",
            "q": self.q,
        }
        if self.waiting and self.status != "all":
            args["waiting"] = "true"
        return {k: v for k, v in args.items() if v not in ("", None)}


def _arg(args, name):
    value = args.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadParameter(gettext("%(name)s must be text.", name=name), {name: gettext("must be a string")})
    return value.strip()


def _flag(args, name):
    value = _arg(args, name).lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise BadParameter(gettext("%(name)s must be true or false.", name=name), {name: gettext("true or false")})


@dataclass
class Row:
    inquiry: ProductInquiry
    message_count: int = 0
    unread_count: int = 0
    last_message: ProductMessage | None = None

    @property
    def shown(self):
        """What ``admin/_row.html`` reads: made from the row's record, as a live row is."""
        return list_rows.shown(list_rows.record(self.inquiry, "page", self.last_message))


@dataclass
class ListPage:
    rows: list
    next_after: str | None
    filters: Filters = field(default_factory=Filters)
    # A search that stopped before the end of the queue with less than a page:
    # next_after searches on (see _searched).
    partial: bool = False


def filtered_query(filters, admin, search=True):
    """The inquiries the filters show on the admin's sites, as a ``select`` (``search=False``:
    all but ``q``). ``admin`` None: every site (the system's own callers, never a request's)."""
    on_sites = access.inquiry_condition(admin) if admin is not None else None
    return _filtered(filters, on_sites, admin.id if admin is not None else None, search)


def list_match(filters, admin_id, site_ids, inquiry_id):
    """The inquiry if the list of an admin (``admin_id``, working on ``site_ids``: None for all)
    with ``filters`` shows it, else None; with its assignee (a live list row's one query)."""
    query = _filtered(filters, access.inquiry_condition_for(site_ids), admin_id).where(ProductInquiry.id == inquiry_id)
    return db.session.scalars(query.options(sa.orm.joinedload(ProductInquiry.assigned_admin))).first()


def _filtered(filters, on_sites, admin_id, search=True):
    query = sa.select(ProductInquiry)
    if on_sites is not None:
        query = query.where(on_sites)
    for column, value in filters.conditions(admin_id):
        query = query.where(
            column.is_not(None) if value is SET else column.is_(None) if value is None else column == value
        )
    if filters.q and search:
        query = query.where(sa.or_(*_mentions(filters.q)))
    return query


def _mentions(text):
    """What a search finds, one condition each: inquiries whose customer's email starts
    with ``text``, whose product's name contains it (a small table, read first), or
    whose messages hold its words (see search.py)."""
    conditions = _in_email_or_product(text)
    in_messages = search.inquiries_with(ProductInquiry.id, text)
    if in_messages is not None:
        conditions.append(in_messages)
    return conditions


def _in_email_or_product(text):
    escaped = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    conditions = [ProductInquiry.customer_email.like(f"{escaped}%", escape="\\")]
    products = db.session.scalars(sa.select(Product.id).where(Product.name.like(f"%{escaped}%", escape="\\"))).all()
    if products:
        conditions.append(ProductInquiry.product_id.in_(products))
    return conditions


def list_inquiries(filters, admin, after=None, limit=50):
    """One page of the queue, with counts and previews in a fixed number of queries."""
    query = filtered_query(filters, admin, search=False)
    if after:
        query = query.where(ProductInquiry.queue_key > after)
    searched_to = None
    if filters.q:
        query, searched_to = _searched(query, filters.q, limit)
    inquiries = (
        db.session.scalars(query.options(*list_rows.LOADS).order_by(ProductInquiry.queue_key).limit(limit + 1))
        .unique()
        .all()
    )
    next_after = inquiries[limit - 1].queue_key if len(inquiries) > limit else searched_to
    rows = rows_for(inquiries[:limit])
    return ListPage(rows, next_after, filters, partial=searched_to is not None and len(inquiries) <= limit)


def _searched(query, text, limit):
    """The search's page as a query of its rows, and the queue key it searched up to
    when it stopped before the end of the queue (None if it did not).

    Each way to be found (see ``_mentions``) takes a page on its own, so each can use
    its index, and the first ``limit`` + 1 of them in queue order are kept. Words that
    are all common are probed row by row over windows of the queue (``_walked``).
    """
    keys = set()

    def page(select, key, id_, condition):
        rows = [
            tuple(row)
            for row in db.session.execute(
                select.with_only_columns(key, id_).where(condition).order_by(key).limit(limit + 1)
            )
        ]
        keys.update(rows)
        return len(rows)

    for condition in _in_email_or_product(text):
        page(query, ProductInquiry.queue_key, ProductInquiry.id, condition)
    searched_to = None
    words = search.plan(text)
    if words is not None:
        condition, walks = words
        if not walks:
            page(query, ProductInquiry.queue_key, ProductInquiry.id, condition(ProductInquiry.id))
        else:
            found, searched_to = _walked(query, condition, limit)
            keys.update(found)
    ordered = sorted(keys)
    if searched_to is not None:
        ordered = [k for k in ordered if k[0] <= searched_to]
    return sa.select(ProductInquiry).where(ProductInquiry.id.in_([i for _, i in ordered[: limit + 1]])), searched_to


def _walked(query, condition, limit):
    """Probe the queue's rows in growing windows (search.WINDOWS) until a page is found
    or the queue ends: (the matching (key, id) pairs, the key searched up to when it
    stopped before the end, else None)."""
    found, last = [], None
    for size in search.WINDOWS:
        rows = query if last is None else query.where(ProductInquiry.queue_key > last)
        window = (
            rows.with_only_columns(ProductInquiry.queue_key, ProductInquiry.id)
            .order_by(ProductInquiry.queue_key)
            .limit(size)
            .subquery()
        )
        seen = db.session.execute(
            sa.select(window.c.queue_key, window.c.id, sa.case((condition(window.c.id), 1), else_=0)).order_by(
                window.c.queue_key
            )
        ).all()
        found.extend((key, id_) for key, id_, hit in seen if hit)
        if len(seen) < size:
            return found, None  # the end of the queue
        last = seen[-1][0]
        if len(found) > limit:
            return found, None
    return found, last


def rows_for(inquiries):
    """Counts (kept on the inquiry) and last-message previews for these inquiries: two
    queries, any page size."""
    ids = [i.id for i in inquiries]
    last = {}
    if ids:
        newest_text = (
            sa.select(sa.func.max(ProductMessage.id))
            .where(ProductMessage.inquiry_id.in_(ids), ProductMessage.message_type == "text")
            .group_by(ProductMessage.inquiry_id)
        )
        last = {
            m.inquiry_id: m
            for m in db.session.scalars(
                sa.select(ProductMessage)
                .where(ProductMessage.id.in_(list(db.session.scalars(newest_text))))
                .options(sa.orm.joinedload(ProductMessage.attachments))  # the preview names the files
            ).unique()
        }
    return [Row(i, i.message_count, i.unread_count, last.get(i.id)) for i in inquiries]


# A message's id is handed out at its INSERT and seen at its COMMIT. One inquiry's
# messages commit in id order (conversations.lock_for_message), different inquiries'
# do not: when the admin list takes the newest id as its cursor, a message of another
# inquiry with a lower id may still be on its way, and its row would never come. Ids
# are handed out one after the other, so such a message is a hole among the visible
# ids; a hole older than LATE_COMMIT_SECONDS (far longer than a transaction that
# writes a message lasts) is a rolled-back or deleted message, not one on its way.
LATE_COMMIT_SECONDS = 60


def list_cursor():
    """The admin list's cursor: the newest message id at or below which every message is
    visible now or will never be (the ids of the last LATE_COMMIT_SECONDS up to their
    first hole). With no message on its way, the newest id."""
    cutoff = utcnow() - timedelta(seconds=LATE_COMMIT_SECONDS)
    cursor = (
        db.session.scalar(
            sa.select(ProductMessage.id)
            .where(ProductMessage.created_at < cutoff)
            .order_by(ProductMessage.id.desc())
            .limit(1)
        )
        or 0
    )
    recent = sa.select(sa.func.count(), sa.func.min(ProductMessage.id), sa.func.max(ProductMessage.id))
    count, first, newest = db.session.execute(recent.where(ProductMessage.id > cursor)).one()
    if not count or count == newest - cursor:
        return newest or cursor  # no hole (the usual case: one range count)
    if first != cursor + 1:
        return cursor
    # The end of the first run of consecutive ids: the first id whose next one is missing.
    after = sa.orm.aliased(ProductMessage)
    return db.session.scalar(
        sa.select(sa.func.min(ProductMessage.id)).where(
            ProductMessage.id > cursor, ~sa.exists().where(after.id == ProductMessage.id + 1)
        )
    )


def changed_since(since, limit=200):
    """The ids of inquiries with messages after id ``since`` (a ``list_cursor``), most
    recently changed first (at most ``limit``), and the cursor for the next catch-up."""
    cursor = list_cursor()  # the same snapshot as the query below (MariaDB)
    changed = db.session.scalars(
        sa.select(ProductMessage.inquiry_id)
        .where(ProductMessage.id > since)
        .group_by(ProductMessage.inquiry_id)
        .order_by(sa.func.max(ProductMessage.id).desc())
        .limit(limit)
    ).all()
    return changed, max(since, cursor)


# The badge counts up to this and then says "99+": the count then costs at most
# this many index entries, however long the queue.
WAITING_SHOWN = 99


def waiting_count(admin):
    """Inquiries of the admin's sites whose customer waits for an answer, up to
    WAITING_SHOWN + 1 (shown as "99+"): the badge and the tab title.

    The same filter as the default "Waiting for us" view, so the number and
    the rows can never disagree.
    """
    query = filtered_query(Filters(status="all", waiting=True), admin)
    # Every status, named: the count then reads only the waiting entries of
    # idx_status_waiting (one range per status), not the whole index.
    query = query.where(ProductInquiry.status.in_(INQUIRY_STATUSES)).limit(WAITING_SHOWN + 1)
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))


def waiting_by_site(connection=None):
    """The waiting inquiries per site id (a str: the JSON key), each up to WAITING_SHOWN + 1: what
    every admin page's badge is summed from (``waiting_count`` for the sites an admin sees).
    ``connection``: read there instead of the session (after a commit)."""
    query = (
        sa.select(Product.site_id, sa.func.count())
        .select_from(ProductInquiry)
        .join(Product, Product.id == ProductInquiry.product_id)
        .where(ProductInquiry.waiting_since.is_not(None), ProductInquiry.status.in_(INQUIRY_STATUSES))
        .group_by(Product.site_id)
    )
    rows = (connection or db.session).execute(query)
    return {str(site_id): min(count, WAITING_SHOWN + 1) for site_id, count in rows}


def waiting_label(count):
    """The badge's text for a ``waiting_count()``."""
    return f"{WAITING_SHOWN}+" if count > WAITING_SHOWN else str(count)


get = conversations.get_inquiry


def other_inquiries(inquiry, admin):
    """The same customer's other conversations (same browser session, or same email) on the admin's sites."""
    condition = ProductInquiry.session_id == inquiry.session_id
    if inquiry.customer_email:
        condition = sa.or_(condition, ProductInquiry.customer_email == inquiry.customer_email)
    on_sites = access.inquiry_condition(admin)
    if on_sites is not None:
        condition = sa.and_(condition, on_sites)
    return db.session.scalars(
        sa.select(ProductInquiry)
        .where(condition, ProductInquiry.id != inquiry.id)
        .order_by(ProductInquiry.updated_at.desc())
        .limit(20)
    ).all()


def admins(site_id=None):
    """Who an inquiry can be assigned to: the active people of its site (every site's: all)."""
    return access.members_of(site_id)


def _note(inquiry, admin, text, event):
    """A workflow note (admins only). Adding it also refreshes the inquiry's queue
    key and tells the admin list (after commit), so a change needs nothing more."""
    conversations.add_admin_message(
        inquiry.id,
        text,
        admin_id=admin.id if admin else None,
        message_type="system",
        system_event=event,
        visibility="internal",
        commit=False,
    )


def controls_record(inquiry):
    """What an inquiry page's controls show (``admin/_controls.html``), as a live record."""
    return records.Controls(
        inquiry.id,
        inquiry.status,
        inquiry.priority,
        inquiry.assigned_admin_id,
        inquiry.rating,
        inquiry.rating_comment,
        inquiry.rated_at.isoformat() if inquiry.rated_at else None,
        tuple((a.id, a.name) for a in admins(inquiry.product.site_id)),
        inquiry.controls_version,
    )


def controls_changed(inquiry):
    """After commit: every open view of the inquiry re-renders its status, priority,
    assignee and rating, whoever changed them (panel, API, CLI, the shopper).

    The change gets the next ``controls_version``. The increment locks the row until the
    commit and is made on its latest committed version, and a transaction reads a row it
    updated as updated (InnoDB too, whatever its snapshot), so the row read back here is
    the state that version is committed with.
    """
    db.session.execute(
        sa.update(ProductInquiry)
        .where(ProductInquiry.id == inquiry.id)
        .values(controls_version=ProductInquiry.controls_version + 1, updated_at=ProductInquiry.updated_at)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(inquiry)
    events.publish_after_commit(db.session, events.inquiry_channel(inquiry.id), controls_record(inquiry))


MISSING = object()


def _locked(inquiry, column):
    """``column``'s committed value (MISSING if the row is gone), the inquiry's row locked until the commit.

    A compare-and-set reads by primary key, then writes by primary key: an UPDATE whose
    WHERE also names the status let MariaDB scan the status index and lock other
    inquiries' entries there, which deadlocked with a concurrent message on another
    inquiry (its UPDATE moves that index entry): one of the two got a 503.
    """
    row = db.session.execute(
        sa.select(ProductInquiry.id, column).where(ProductInquiry.id == inquiry.id).with_for_update()
    ).first()
    return MISSING if row is None else row[1]


def _set(inquiry, values):
    db.session.execute(
        sa.update(ProductInquiry)
        .where(ProductInquiry.id == inquiry.id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(inquiry)


def _change(inquiry, column, value):
    """Compare-and-set ``column`` to ``value``: True only for the request that changed it."""
    current = _locked(inquiry, column)
    if current is MISSING or current == value:
        return False
    _set(inquiry, {column.key: value, "updated_at": utcnow()})
    return True


def _claim_pending(inquiry):
    """pending -> in_progress, once, however many first answers race."""
    if _locked(inquiry, ProductInquiry.status) != "pending":
        return False
    _set(inquiry, {"status": "in_progress"})
    return True


def _time_first_response(inquiry, answered_at):
    """The first answer's time, once (compare-and-set), in seconds of the shop's business hours."""
    seconds = hours.Hours.of(inquiry.product.site).open_seconds(inquiry.created_at, answered_at)
    db.session.execute(
        sa.update(ProductInquiry)
        .where(ProductInquiry.id == inquiry.id, ProductInquiry.first_response_at.is_(None))
        .values(first_response_at=answered_at, first_response_seconds=seconds)
        .execution_options(synchronize_session=False)
    )


def respond(inquiry_id, admin, text, client_msg_id=None, files=()):
    """An admin answers (with ``files`` from ``attachments.receive``); a pending inquiry
    moves to in progress.

    Returns a ``SendResult``: a repeated client id gives the stored answer
    (``created`` False) and changes nothing else.
    """
    inquiry = get(inquiry_id)
    result = conversations.add_admin_message(
        inquiry.id, text, admin_id=admin.id, client_msg_id=client_msg_id, commit=False, files=files
    )
    if not result.created:
        return result
    _time_first_response(inquiry, result.message.created_at)
    if _claim_pending(inquiry):
        _note(inquiry, admin, f"Marked in progress by {admin.name}", "status")
        controls_changed(inquiry)
        webhook_events.inquiry_updated(inquiry, "status", "pending", "in_progress")
    db.session.commit()
    return result


def set_status(inquiry_id, admin, status):
    choice(status, INQUIRY_STATUSES, "status")
    inquiry = get(inquiry_id)
    before = inquiry.status
    if _change(inquiry, ProductInquiry.status, status):
        _note(inquiry, admin, f"Marked {STATUS_LABELS[status]} by {admin.name}", "status")
        controls_changed(inquiry)
        webhook_events.inquiry_updated(inquiry, "status", before, status)
        if status == "resolved":
            # The one workflow line a customer sees.
            conversations.add_admin_message(
                inquiry.id,
                RESOLVED_NOTICE,
                admin_id=admin.id,
                message_type="system",
                system_event="resolved",
                commit=False,
            )
    db.session.commit()
    return inquiry


def set_priority(inquiry_id, admin, priority):
    choice(priority, PRIORITIES, "priority")
    inquiry = get(inquiry_id)
    before = inquiry.priority
    if _change(inquiry, ProductInquiry.priority, priority):
        _note(inquiry, admin, f"Priority set to {priority} by {admin.name}", "priority")
        controls_changed(inquiry)
        webhook_events.inquiry_updated(inquiry, "priority", before, priority)
        if priority == "high":
            last = db.session.scalar(
                sa.select(ProductMessage.message_text)
                .where(ProductMessage.inquiry_id == inquiry.id, ProductMessage.sender_type == "customer")
                .order_by(ProductMessage.id.desc())
                .limit(1)
            )
            notifications.queue_high_priority(inquiry, last or "")
    db.session.commit()
    return inquiry


def assign(inquiry_id, admin, assignee_id):
    inquiry = get(inquiry_id)
    assignee = None
    if assignee_id not in (None, ""):
        try:
            assignee_id = parse_id(assignee_id, "admin_id")
        except BadParameter:
            raise ValidationError(
                gettext("assignee must be an admin id or empty."), {"admin_id": gettext("an admin id or null")}
            ) from None
        assignee = db.session.get(User, assignee_id)
        if assignee is None or not assignee.is_active or not access.sees_site(assignee, inquiry.product.site_id):
            raise ValidationError(
                gettext("No such admin on this site."), {"admin_id": gettext("unknown admin, or not on this site")}
            )
    target = assignee.id if assignee else None
    before = inquiry.assigned_admin_id
    changed = (
        db.session.execute(
            sa.update(ProductInquiry)
            .where(ProductInquiry.id == inquiry.id, ProductInquiry.assigned_admin_id.is_distinct_from(target))
            .values(assigned_admin_id=target, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if changed:
        db.session.refresh(inquiry)
        text = (
            f"Taken by {admin.name}"
            if assignee and assignee.id == admin.id
            else f"Assigned to {assignee.name} by {admin.name}"
            if assignee
            else f"Unassigned by {admin.name}"
        )
        _note(inquiry, admin, text, "assignee")
        controls_changed(inquiry)
        webhook_events.inquiry_updated(inquiry, "assignee", before, target)
    db.session.commit()
    return inquiry


# -- presence: who has the inquiry open -------------------------------------


def see(inquiry_id, admin_id):
    """Record (or refresh) that an admin has the inquiry open; announce arrivals.

    Two streams of one admin write the same row (two tabs; a reconnect while the old stream
    still closes, whose ``leave`` deletes it): neither may fail, or its stream ends at open."""
    now = utcnow()
    key = (AdminPresence.admin_id == admin_id, AdminPresence.inquiry_id == inquiry_id)
    present = db.session.scalar(sa.select(AdminPresence.seen_at).where(*key)) is not None
    # A row deleted meanwhile updates nothing: it is inserted again (unless another stream did).
    refreshed = present and db.session.execute(sa.update(AdminPresence).where(*key).values(seen_at=now)).rowcount
    if not refreshed and insert_if_absent(AdminPresence, admin_id=admin_id, inquiry_id=inquiry_id, seen_at=now):
        _presence_changed(inquiry_id)
    db.session.commit()


def leave(inquiry_id, admin_id):
    db.session.execute(
        sa.delete(AdminPresence).where(AdminPresence.admin_id == admin_id, AdminPresence.inquiry_id == inquiry_id)
    )
    _presence_changed(inquiry_id)
    db.session.commit()


def _presence_changed(inquiry_id):
    """After commit: the inquiry's open pages show who else looks at it."""
    present = tuple((v.id, v.name) for v in viewers(inquiry_id))
    events.publish_after_commit(db.session, events.inquiry_channel(inquiry_id), records.Presence(inquiry_id, present))


def viewers(inquiry_id, fresh_seconds=45):
    since = utcnow() - timedelta(seconds=fresh_seconds)
    return db.session.scalars(
        sa.select(User)
        .join(AdminPresence, AdminPresence.admin_id == User.id)
        .where(AdminPresence.inquiry_id == inquiry_id, AdminPresence.seen_at >= since)
        .order_by(User.name)
    ).all()
