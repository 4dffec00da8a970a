"""The admins' live stream.

Every admin page has one stream, subscribed to the channels of what it shows.
All of them get the waiting count (the header badge and the tab title) and "a
customer wrote" (notifications) from the light ADMIN_NOTICES channel. The
list's stream also gets its rows from ADMIN_LIST (it carries the list's
filters, so rows that stop matching leave and rows that start matching come);
an inquiry page's stream gets only that inquiry's channel: its messages,
marks, typing, presence and controls.
"""

from flask import current_app, has_request_context, request
from flask_login import current_user
from flask_sse import Message

from .. import i18n
from ..extensions import db
from ..inputs import last_event_id, optional_id
from ..live import events, records, render
from ..live.names import Event, admin_channels
from ..live.render import admin as rendering
from ..live.stream import MISSING, StreamHandler, event_stream, made, once
from ..models import ProductInquiry, User
from ..services import access, conversations, inquiries, list_rows, sites
from ..services.validation import parse_id
from . import bp


def controls_context(inquiry):
    """What ``admin/_controls.html`` needs, for the page and its forms (the stream renders
    a CONTROLS record: ``live/render/admin.py``)."""
    return dict(
        inquiry=inquiry,
        admins=inquiries.admins(inquiry.product.site_id),
        statuses=inquiries.INQUIRY_STATUSES,
        priorities=inquiries.PRIORITIES,
        status_labels=inquiries.STATUS_LABELS,
        me=current_user.id,
    )


class AdminStream(StreamHandler):
    """Filters records by channel and page; ``live/render/admin.py`` renders them. Also the
    renderer's viewer: ``admin_id``, ``sees``, ``locale``, ``inquiry_id``, ``filters``, ``list_args``."""

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
        # What is rendered once per event is shared only by pages in the same language.
        self.locale = i18n.current() if has_request_context() else i18n.DEFAULT
        # Whether its rows name their site (as the list page decides): counted once, here.
        self.name_sites = filters is not None and sites.several(site_ids)
        self.badge = None  # the waiting count this page was last sent
        # The list's filters as a key (``rendering.list_key``), made once per stream.
        self.list_args = None if filters is None else tuple(sorted(filters.as_args().items()))
        # Everything of this viewer that ``rendering.plan`` reads but the inquiry it shows:
        # pages alike in it get the same Messages for a record not about their inquiry.
        self.alike = (admin_id, self.sees, self.locale, self.list_args, self.name_sites)

    pins_viewer = True

    def admin(self):
        return db.session.get(User, self.admin_id)

    viewer = admin

    def shows(self, event):
        record = records.decode(event)
        return bool(self.inquiry_id) and record.inquiry_id == self.inquiry_id

    def messages_after(self, after):
        return conversations.list_messages(self.inquiry_id, after=after, limit=500, viewer="admin").messages

    def arrived(self, messages, event):
        return rendering.arrived(messages)

    def replay(self, after):
        """On (re)connecting: the inquiry's missed messages (and its controls, if any were
        missed: every change leaves a note), the list's changed rows, the waiting count."""
        out = []
        if self.inquiry_id and after is not None:
            out = [rendering.message(m) for m in self.messages_after(after)]
            inquiry = db.session.get(ProductInquiry, self.inquiry_id) if out else None
            if inquiry is not None:
                out.append(rendering.controls(inquiries.controls_record(inquiry), self.admin_id))
        if self.filters is not None and self.since is not None:
            out.extend(self._rows_since())
        self.badge = str(inquiries.waiting_count(self.admin()))
        out.append(Message(self.badge, type=Event.WAITING))
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
                inquiries.filtered_query(self.filters, self.admin())
                .where(ProductInquiry.id.in_(changed))
                .options(*list_rows.LOADS)
            )
            .unique()
            .all()
        )
        found = {i.id for i in matching}
        out = [Message(str(i), type=Event.REMOVE) for i in changed if i not in found]
        out.extend(rendering.row(row.shown, self.name_sites) for row in inquiries.rows_for(matching))
        return out

    def _page_key(self, record):
        mine = self.inquiry_id is not None and getattr(record, "inquiry_id", None) == self.inquiry_id
        return ("page", self.alike, self.inquiry_id if mine else None)

    def handle(self, event):
        record = records.decode(event)
        out = once(event, self._page_key(record), lambda: render.rendered(event, rendering.plan(record, self)))
        return self._badge_changes(record, out)

    def cached(self, event):
        """What the first admin page of this worker made for this event: the whole answer of
        a page alike (one lookup), else each variant by the same plan ``handle`` renders (no
        context, no SQL); None if something is missing."""
        record = records.decode(event)
        key = self._page_key(record)
        got = made(event, key)
        if got is MISSING:
            got = render.cached(event, rendering.plan(record, self))
            if got is None:
                return None
            once(event, key, lambda: got)  # the next page alike takes it in one lookup
        return self._badge_changes(record, got)

    def _badge_changes(self, record, out):
        """``out``, but a WAITING record's Messages only when the count differs from what this
        page shows: every customer message recounts it, and an unchanged count redrew the
        badge, the tab title and the favicon of every open admin page for nothing."""
        if type(record) is not records.Waiting or not out:
            return out
        shown, self.badge = self.badge, out[0].data
        return [] if out[0].data == shown else out

    reader = "admin"

    def delivered(self, message_ids):
        return {self.inquiry_id: message_ids} if self.inquiry_id else {}

    def delivers(self, event, written):
        """A customer's message named by a list row or a "customer wrote" notice this page
        got (any admin page of the shop): it reached a device of the shop."""
        record = records.decode(event)
        if isinstance(record, records.CustomerWrote):
            named = record.message_id
        elif isinstance(record, records.InquiryChanged) and record.sender_type == "customer":
            named = record.message_id
        else:
            return {}
        if named and any(m.type in (Event.ROW, Event.CUSTOMER_WROTE) for m in written):
            return {record.inquiry_id: [named]}
        return {}

    def on_open(self):
        if self.inquiry_id:
            inquiries.see(self.inquiry_id, self.admin_id)

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
