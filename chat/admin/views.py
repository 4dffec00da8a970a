from flask import current_app, g, request, url_for
from flask_babel import lazy_gettext
from flask_login import current_user

from ..extensions import db
from ..htmx import is_htmx, render, render_fragment
from ..inputs import accepts_files, optional_id, parse_since, uploaded_files
from ..models import PRIORITIES, Product, utcnow
from ..services import access, attachments, conversations, inquiries, people
from . import bp
from .live import controls_context


@bp.context_processor
def waiting_badge():
    """``admin_waiting()``: the header badge's and the tab title's count, asked once per request
    (``waiting_label(count)`` writes it: "99+" past WAITING_SHOWN)."""

    def admin_waiting():
        if "admin_waiting" not in g:
            g.admin_waiting = inquiries.waiting_count(current_user) if current_user.is_authenticated else 0
        return g.admin_waiting

    return {
        "admin_waiting": admin_waiting,
        "waiting_label": inquiries.waiting_label,
        "waiting_shown": inquiries.WAITING_SHOWN,
        "status_name": lambda code: STATUS_NAMES.get(code, code),
        "priority_name": lambda code: PRIORITY_NAMES.get(code, code),
    }


@bp.app_context_processor
def permissions():
    """``can(action, site=None)`` for templates: what access.py allows the logged-in person."""

    def can(action, site=None):
        return current_user.is_authenticated and access.can(current_user, action, site)

    return {"can": can}


VIEW_LABELS = {
    "waiting": lazy_gettext("Waiting for us"),
    "pending": lazy_gettext("Pending"),
    "in_progress": lazy_gettext("In progress"),
    "resolved": lazy_gettext("Resolved"),
    "closed": lazy_gettext("Closed"),
    "all": lazy_gettext("All"),
}
# How the panel writes a status and a priority (the stored codes stay English).
STATUS_NAMES = {
    "pending": lazy_gettext("pending"),
    "in_progress": lazy_gettext("in progress"),
    "resolved": lazy_gettext("resolved"),
    "closed": lazy_gettext("closed"),
}
PRIORITY_NAMES = {"low": lazy_gettext("low"), "medium": lazy_gettext("medium"), "high": lazy_gettext("high")}


def _visible(query, site_column):
    condition = access.site_condition(current_user, site_column)
    return query if condition is None else query.where(condition)


def _list_context(filters, after=None):
    page = inquiries.list_inquiries(filters, current_user, after=after, limit=current_app.config["ADMIN_PAGE_SIZE"])
    # The stream catches up from here: rows that change while the page loads are not
    # lost, nor rows of messages still on their way (same snapshot as the rows above).
    since = inquiries.list_cursor()
    return dict(
        page=page,
        filters=filters,
        views=inquiries.VIEWS,
        view_labels=VIEW_LABELS,
        priorities=PRIORITIES,
        since=since,
        # The assignee filter: the people of the viewer's sites.
        admins=[p.user for p in people.people(current_user) if p.user.is_active],
        products=db.session.scalars(_visible(db.select(Product), Product.site_id).order_by(Product.name)).all(),
    )


@bp.get("", endpoint="inquiries")
@bp.get("/inquiries")
def inquiries_page():
    """The queue; "Waiting for us" unless the filters say otherwise ("Load more" pages via ``after``)."""
    filters = inquiries.Filters.parse(request.args, default="waiting")
    after = inquiries.queue_cursor(request.args.get("after"))
    context = _list_context(filters, after)
    if is_htmx() and after:
        # "Load more": only the next rows.
        return render_fragment("admin/_rows.html", **context)
    return render("admin/inquiries.html", "admin/_list.html", **context)


def _inquiry_context(inquiry_id):
    inquiry = inquiries.get(inquiry_id)
    page = conversations.list_messages(inquiry.id, limit=current_app.config["CHAT_PAGE_SIZE"], viewer="admin")
    return dict(
        product=inquiry.product,
        page=page,
        viewer="admin",
        now_iso=utcnow().isoformat(),
        messages_url=url_for("admin.inquiry_messages", inquiry_id=inquiry.id),
        others=inquiries.other_inquiries(inquiry, current_user),
        **controls_context(inquiry),
        viewers=[v for v in inquiries.viewers(inquiry.id) if v.id != current_user.id],
    )


@bp.get("/inquiries/<id:inquiry_id>")
def inquiry_page(inquiry_id):
    """One inquiry: the conversation, the product, the controls and the customer."""
    context = _inquiry_context(inquiry_id)
    response = render("admin/inquiry.html", "admin/_inquiry.html", **context)
    # Marked after rendering: the commit would expire the loaded messages.
    conversations.mark_delivered(inquiry_id, "admin", [m.id for m in context["page"].messages])
    return response


@bp.get("/inquiries/<id:inquiry_id>/messages")
def inquiry_messages(inquiry_id):
    """Older messages (``before``), or what changed since the last poll (``after``, ``since``)."""
    inquiries.get(inquiry_id)
    after, before = optional_id("after", allow_zero=True), optional_id("before")
    since = parse_since(request.args.get("since"))
    page = conversations.list_messages(
        inquiry_id, before=before, after=after, limit=current_app.config["CHAT_PAGE_SIZE"], viewer="admin"
    )
    context = dict(page=page, viewer="admin", messages_url=url_for("admin.inquiry_messages", inquiry_id=inquiry_id))
    if before is not None:
        return render_fragment("conversation/_older.html", **context)
    now = utcnow()
    marks = conversations.marks_since(inquiry_id, "admin", since) if since else []
    if after is not None and not page.messages and not marks:
        return "", 204  # polling: nothing new
    response = render_fragment(
        "conversation/_updates.html",
        marks=marks,
        since=now.isoformat(),
        after=page.messages[-1].id if page.messages else after or 0,
        **context,
    )
    conversations.mark_delivered(inquiry_id, "admin", [m.id for m in page.messages])
    return response


@bp.post("/inquiries/<id:inquiry_id>/messages")
@accepts_files
def answer(inquiry_id):
    """An answer from the inquiry page, with its ``files`` (a repeated client id gives the stored one, 200)."""
    inquiries.get(inquiry_id)
    prepared = attachments.receive(uploaded_files())
    result = inquiries.respond(
        inquiry_id,
        current_user,
        request.form.get("message_text", ""),
        request.form.get("client_message_id"),
        files=prepared,
    )
    return render_fragment(
        "conversation/_message.html", message=result.message, viewer="admin", status=201 if result.created else 200
    )


def _controls(inquiry):
    return render_fragment("admin/_controls.html", **controls_context(inquiry))


@bp.post("/inquiries/<id:inquiry_id>/status")
def change_status(inquiry_id):
    """Status select; answers with the controls (every other view gets them live)."""
    return _controls(inquiries.set_status(inquiry_id, current_user, request.form.get("status", "")))


@bp.post("/inquiries/<id:inquiry_id>/priority")
def change_priority(inquiry_id):
    """Priority select; answers with the controls."""
    return _controls(inquiries.set_priority(inquiry_id, current_user, request.form.get("priority", "")))


@bp.post("/inquiries/<id:inquiry_id>/assignee")
def change_assignee(inquiry_id):
    """Assignee select (empty: nobody); answers with the controls."""
    return _controls(inquiries.assign(inquiry_id, current_user, request.form.get("admin_id") or None))


@bp.post("/inquiries/<id:inquiry_id>/read")
def read(inquiry_id):
    """The admin has read the customer's messages (the customer sees "read")."""
    inquiries.get(inquiry_id)
    conversations.mark_read(inquiry_id, reader="admin")
    return "", 204


@bp.post("/inquiries/<id:inquiry_id>/typing")
def typing(inquiry_id):
    """The admin is typing: the customer sees it for a few seconds."""
    inquiry = inquiries.get(inquiry_id)
    conversations.announce_typing(inquiry, "admin")
    return "", 204
