"""The admins' live stream.

Every admin page has one stream, subscribed to the channels of what it shows.
All of them get the waiting count (the header badge and the tab title) and "a
customer wrote" (notifications) from the light ADMIN_NOTICES channel. The
list's stream also gets its rows from ADMIN_LIST (it carries the list's
filters, so rows that stop matching leave and rows that start matching come);
an inquiry page's stream gets only that inquiry's channel: its messages,
marks, typing, presence and controls.
"""

import json

import sqlalchemy as sa
from flask import current_app, has_request_context, render_template, request, url_for
from flask_login import current_user
from flask_sse import Message

from .. import i18n
from ..extensions import db
from ..inputs import last_event_id, optional_id
from ..live import events
from ..live.names import Event, admin_channels
from ..live.stream import MISSING, StreamHandler, event_stream, made, once
from ..models import ProductInquiry, ProductMessage, User
from ..services import access, attachments, conversations, inquiries
from ..services.validation import parse_id
from . import bp

PREVIEW_CHARACTERS = 120
# EventSource drops events with no data, so "stopped typing" carries an empty element.
NOT_TYPING = '<span class="typing-note" hidden></span>'


def controls_context(inquiry):
    """What ``admin/_controls.html`` needs, for the page, its forms and the stream."""
    return dict(
        inquiry=inquiry,
        admins=inquiries.admins(inquiry.product.site_id),
        statuses=inquiries.INQUIRY_STATUSES,
        priorities=inquiries.PRIORITIES,
        status_labels=inquiries.STATUS_LABELS,
    )


def _controls_state(inquiry):
    return (inquiry.status, inquiry.priority, inquiry.assigned_admin_id) if inquiry else None


class AdminStream(StreamHandler):
    def __init__(self, admin_id, filters=None, inquiry_id=None, since=None, site_ids=None):
        self.admin_id = admin_id
        self.filters = filters  # the list's filters; None when the page shows no list
        self.since = since  # the list: the newest message id its page (or this stream) knew of
        self.inquiry_id = inquiry_id
        # The sites this admin works on (None: all): the stream subscribes to those sites'
        # channels only, so another site's events never reach this worker for it.
        self.site_ids = site_ids
        self.sees = "all" if site_ids is None else tuple(sorted(site_ids))
        self.channels = (
            admin_channels(events.ADMIN_NOTICES, site_ids)
            + (admin_channels(events.ADMIN_LIST, site_ids) if filters is not None else ())
            + ((events.inquiry_channel(inquiry_id),) if inquiry_id else ())
        )
        self._controls_shown = None  # (status, priority, assignee) as this page shows them
        # What is rendered once per event is shared only by pages in the same language.
        self.locale = i18n.current() if has_request_context() else i18n.DEFAULT

    pins_viewer = True

    def _admin(self):
        return db.session.get(User, self.admin_id)

    viewer = _admin

    def _message(self, message):
        html = render_template("conversation/_message.html", message=message, viewer="admin").strip()
        return Message(html, type=Event.MESSAGE, id=message.id)

    def shows(self, event):
        return bool(self.inquiry_id) and (event.get("data") or {}).get("inquiry_id") == self.inquiry_id

    def messages_after(self, after):
        return conversations.list_messages(self.inquiry_id, after=after, limit=500, viewer="admin").messages

    def arrived(self, messages, event):
        out = [self._message(m) for m in messages]
        if any(m.sender_type == "customer" for m in messages):
            out.append(Message(NOT_TYPING, type=Event.TYPING))
            # A customer writing on a resolved or closed inquiry reopens it: the status
            # moved without an admin's change.
            out.extend(self._controls(event, only_if_changed=True))
        return out

    def replay(self, after):
        """On (re)connecting: the inquiry's missed messages (and its controls, if any were
        missed: every change leaves a note), the list's changed rows, the waiting count."""
        out = []
        if self.inquiry_id and after is not None:
            out = [self._message(m) for m in self.messages_after(after)]
            if out:
                out.extend(self._controls())
        if self.filters is not None and self.since is not None:
            out.extend(self._rows_since())
        out.append(Message(str(inquiries.waiting_count(self._admin())), type=Event.WAITING))
        return out

    def _rows_since(self, limit=200):
        """Rows of the inquiries with messages newer than ``since``: what came, changed or
        left while the page loaded or the stream was down (and a little more: see
        ``inquiries.changed_since``)."""
        changed, self.since = inquiries.changed_since(self.since, limit)
        if not changed:
            return []
        matching = (
            db.session.scalars(
                inquiries.filtered_query(self.filters, self._admin())
                .where(ProductInquiry.id.in_(changed))
                .options(sa.orm.joinedload(ProductInquiry.product), sa.orm.joinedload(ProductInquiry.assigned_admin))
            )
            .unique()
            .all()
        )
        found = {i.id for i in matching}
        out = [Message(str(i), type=Event.REMOVE) for i in changed if i not in found]
        out.extend(
            Message(render_template("admin/_row.html", row=row).strip(), type=Event.ROW)
            for row in inquiries.rows_for(matching)
        )
        return out

    def handle(self, event):
        data = event.get("data") or {}
        kind = event.get("type")
        mine = self.inquiry_id and data.get("inquiry_id") == self.inquiry_id
        out = []
        if kind == Event.INQUIRY:
            if self.filters is not None:
                out.extend(self._row(event, data["inquiry_id"]))
        elif kind == Event.WAITING:
            # The same bytes for every admin page of this worker that sees the same sites.
            out.append(
                once(
                    event,
                    ("waiting", self.sees),
                    lambda: Message(str(inquiries.waiting_count(self._admin())), type=Event.WAITING),
                )
            )
            if _notifies(data):
                wrote = once(
                    event, ("wrote", self.locale), lambda: customer_wrote(data["message_id"], data.get("first"))
                )
                if wrote is not None:
                    out.append(wrote)
        elif kind == Event.CONTROLS and mine:
            out.extend(self._controls(event))
        elif kind == Event.MARKS and mine and data.get("reader") == "customer":
            marks = db.session.scalars(sa.select(ProductMessage).where(ProductMessage.id.in_(data["ids"]))).all()
            out.append(Message(render_template("conversation/_marks.html", marks=marks).strip(), type=Event.MARKS))
        elif kind == Event.TYPING and mine and data.get("from") == "customer":
            out.append(Message(render_template("conversation/_typing.html", who="The customer"), type=Event.TYPING))
        elif kind == Event.PRESENCE and mine:
            viewers = [v for v in inquiries.viewers(self.inquiry_id) if v.id != self.admin_id]
            out.append(
                Message(render_template("admin/_viewers.html", viewers=viewers).strip() or " ", type=Event.PRESENCE)
            )
        return out

    def cached(self, event):
        """The badge, the notification and list rows as the first admin page of this
        worker made them for this event (no context, no SQL)."""
        data = event.get("data") or {}
        kind = event.get("type")
        if kind == Event.WAITING:
            waiting = made(event, ("waiting", self.sees))
            if waiting is MISSING:
                return None
            if _notifies(data):
                wrote = made(event, ("wrote", self.locale))
                if wrote is MISSING:
                    return None
                return [waiting] if wrote is None else [waiting, wrote]
            return [waiting]
        if kind == Event.INQUIRY and self.filters is not None:
            matches = made(event, self._matches_key())
            if matches is MISSING:
                return None
            if not matches:
                return [Message(str(data["inquiry_id"]), type=Event.REMOVE)]
            row = made(event, ("row", data["inquiry_id"], self.locale))
            return None if row is MISSING else [row]
        return None

    def _matches_key(self):
        filters = self.filters
        return (
            "matches",
            tuple(sorted(filters.as_args().items())),
            self.admin_id if filters.assignee == "mine" else None,
            self.sees,
        )

    def _row(self, event, inquiry_id):
        """The inquiry's list row if it (still) matches this list's filters, else a removal.

        Lists with the same filters (most show "Waiting for us") share one query
        and one rendering per event.
        """
        filters = self.filters
        key = self._matches_key()

        found = {}

        def matches():
            # The whole row, kept for row() below (the session holds it only weakly).
            query = inquiries.filtered_query(filters, self._admin()).where(ProductInquiry.id == inquiry_id)
            found["inquiry"] = db.session.scalars(
                query.options(sa.orm.joinedload(ProductInquiry.assigned_admin))
            ).first()
            return found["inquiry"] is not None

        if not once(event, key, matches):
            return [Message(str(inquiry_id), type=Event.REMOVE)]

        def row():
            inquiry = found.get("inquiry") or db.session.get(ProductInquiry, inquiry_id)
            html = render_template("admin/_row.html", row=inquiries.rows_for([inquiry])[0]).strip()
            return Message(html, type=Event.ROW)

        return [once(event, ("row", inquiry_id, self.locale), row)]

    def _controls(self, event=None, only_if_changed=False):
        """The open inquiry's status, priority and assignee controls, as this admin sees them."""
        inquiry = db.session.get(ProductInquiry, self.inquiry_id)
        if inquiry is None:
            return []
        state = _controls_state(inquiry)
        if only_if_changed and state == self._controls_shown:
            return []
        self._controls_shown = state

        def render():
            html = render_template("admin/_controls.html", **controls_context(inquiry)).strip()
            return Message(html, type=Event.CONTROLS)

        # Per admin: the assignee list marks "(me)".
        return [once(event, ("controls", self.admin_id), render) if event is not None else render()]

    reader = "admin"

    def delivered(self, message_ids):
        return {self.inquiry_id: message_ids} if self.inquiry_id else {}

    def delivers(self, event, written):
        """A customer's message named by a list row or a "customer wrote" notice this page
        got (any admin page of the shop): it reached a device of the shop."""
        data = event.get("data") or {}
        if data.get("sender_type") != "customer" or not data.get("message_id"):
            return {}
        if any(m.type in (Event.ROW, Event.CUSTOMER_WROTE) for m in written):
            return {data["inquiry_id"]: [data["message_id"]]}
        return {}

    def on_open(self):
        if self.inquiry_id:
            inquiries.see(self.inquiry_id, self.admin_id)
            self._controls_shown = _controls_state(db.session.get(ProductInquiry, self.inquiry_id))

    def on_heartbeat(self):
        if self.inquiry_id:
            inquiries.see(self.inquiry_id, self.admin_id)

    def still_allowed(self):
        # Each step runs in a request context rebuilt from the stream's request,
        # so this asks the user loader again: a logout elsewhere, "log out
        # everywhere" or a deactivation closes an open stream within a heartbeat.
        # Their role and sites are asked again too: a person who loses the site (or
        # whose sites change) gets a fresh stream for what they now see.
        if not (current_user.is_authenticated and current_user.id == self.admin_id):
            return False
        if access.visibility_key(current_user) != self.sees:
            return False
        return not self.inquiry_id or access.can_see_inquiry(current_user, self.inquiry_id)

    def on_close(self):
        if self.inquiry_id:
            inquiries.leave(self.inquiry_id, self.admin_id)


def _notifies(notice):
    """Whether a waiting-count notice also brings "a customer wrote": a customer's message
    announced for the first time (a retry's announcement carries no sender_type)."""
    return notice.get("sender_type") == "customer" and bool(notice.get("message_id"))


def preview(text, limit=PREVIEW_CHARACTERS):
    """One line of at most ``limit`` characters."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def customer_wrote(message_id, first=None):
    """The "a customer wrote" event (JSON) for a customer's message, or None.

    Says whether it starts a new inquiry or follows up (``first``, when the sender
    said so; else counted), names the product and links the inquiry; the preview is
    shown only if the admin asks for it.
    """
    message = db.session.scalar(
        sa.select(ProductMessage)
        .where(ProductMessage.id == message_id)
        .options(sa.orm.joinedload(ProductMessage.inquiry))
    )
    if message is None or message.sender_type != "customer" or message.message_type != "text":
        return None
    inquiry = message.inquiry
    if first is None:
        first = not db.session.scalar(
            sa.select(sa.func.count(ProductMessage.id)).where(
                ProductMessage.inquiry_id == inquiry.id,
                ProductMessage.sender_type == "customer",
                ProductMessage.id < message.id,
            )
        )
    payload = {
        "inquiry_id": inquiry.id,
        "message_id": message.id,
        "kind": "new" if first else "followup",
        "product": inquiry.product.name,
        "url": url_for("admin.inquiry_page", inquiry_id=inquiry.id),
        "preview": preview(attachments.preview(message)),
    }
    return Message(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), type=Event.CUSTOMER_WROTE)


LIST_ARGS = frozenset({"status", "waiting", "priority", "assignee", "product", "product_id", "q", "since"})


@bp.get("/stream")
def stream():
    """The admin's SSE stream: ``?inquiry=<id>&after=<message id>`` for an inquiry page,
    the list's filters (``status=...``) and ``since=<message id>`` for the list, nothing
    for other pages."""
    inquiry_id = optional_id("inquiry")
    if inquiry_id:
        access.inquiry(current_user, inquiry_id)  # another site's inquiry: 404, as if unknown
    if not current_app.config["SSE_ENABLED"]:
        return "", 204
    filters = since = None
    # Any list filter makes this the list's stream, so a bad value is a 400 here too.
    if not inquiry_id and LIST_ARGS.intersection(request.args):
        filters = inquiries.Filters.parse(request.args, default="waiting")
        since = parse_id(request.args.get("since") or "0", "since", allow_zero=True)
    handler = AdminStream(current_user.id, filters, inquiry_id, since, access.visible_site_ids(current_user))
    return event_stream(handler, last_event_id())
