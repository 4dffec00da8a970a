from flask import current_app, redirect, request, url_for

from ..htmx import is_htmx, render, render_fragment
from ..live import events
from ..inputs import known_marks, last_event_id, optional_id
from ..live.stream import event_stream
from ..services import ValidationError, conversations, shoppers
from .. import identity
from . import bp
from .limits import send_limit, typing_limit
from .live import CustomerStream


def conversation_context(product_id):
    """What the panel shows; creates nothing (the inquiry comes with the first message)."""
    product = conversations.get_product(product_id)
    inquiry = identity.own_inquiry(product_id)
    page = conversations.list_messages(
        inquiry.id if inquiry else None, limit=current_app.config["CHAT_PAGE_SIZE"]
    )
    return dict(product=product, inquiry=inquiry, page=page, viewer="customer")


@bp.get("")
def panel(product_id):
    # The session (not the inquiry) starts here, so the live stream can open
    # before the first message.
    identity.ensure()
    context = conversation_context(product_id)
    response = render("customer/chat_page.html", "customer/_panel.html", **context)
    if context["inquiry"] is not None:
        # Marked after rendering: the commit would expire the loaded messages.
        conversations.mark_delivered(context["inquiry"].id, "customer",
                                     [m.id for m in context["page"].messages])
    return response


@bp.get("/messages")
def messages(product_id):
    after, before = optional_id("after", allow_zero=True), optional_id("before")
    conversations.get_product(product_id)
    inquiry = identity.own_inquiry(product_id)
    inquiry_id = inquiry.id if inquiry else None
    page = conversations.list_messages(
        inquiry_id, before=before, after=after, limit=current_app.config["CHAT_PAGE_SIZE"]
    )
    if not is_htmx():
        return redirect(url_for(".panel", product_id=product_id))
    marks = conversations.changed_marks(inquiry_id, "customer", known_marks())
    if not page.messages and not marks and after is not None:
        # Polling an unchanged conversation: no body, no rendering.
        return "", 204
    response = render_fragment("customer/_message_items.html", page=page, viewer="customer",
                               product_id=product_id, marks=marks)
    conversations.mark_delivered(inquiry_id, "customer", [m.id for m in page.messages])
    return response


@bp.post("/messages")
@send_limit
def send(product_id):
    session_id = identity.ensure()
    result = conversations.send_customer_message(
        product_id, session_id, request.form.get("message_text", ""),
        request.form.get("client_message_id"),
    )
    return _answer(product_id, "conversation/_message.html", message=result.message,
                   viewer="customer", status=201 if result.created else 200)


def _answer(product_id, fragment, **context):
    """HTMX gets the fragment; a plain form post goes back to the chat page."""
    if is_htmx():
        return render_fragment(fragment, **context)
    return redirect(url_for(".panel", product_id=product_id), code=303)


@bp.post("/email")
def email(product_id):
    session_id = identity.ensure()
    address = request.form.get("customer_email", "")
    try:
        conversations.get_product(product_id)
        shoppers.set_email(session_id, address, request.form.get("email_consent") == "yes")
        inquiry = identity.own_inquiry(product_id)
    except ValidationError as error:
        if not is_htmx():
            raise
        # Show the problem next to the input, keeping what was typed.
        return render_fragment(
            "customer/_email_form.html", status=error.status, error=error, email=address,
            product=conversations.get_product(product_id),
            inquiry=identity.own_inquiry(product_id),
        )
    return _answer(product_id, "customer/_email_form.html",
                   product=inquiry.product, inquiry=inquiry, saved=True)


@bp.post("/email/forget")
def forget_email(product_id):
    product = conversations.get_product(product_id)
    session_id = identity.from_request()
    shoppers.forget_email(session_id)
    inquiry = identity.own_inquiry(product_id)
    return _answer(product_id, "customer/_email_form.html",
                   product=product, inquiry=inquiry, forgotten=True)


@bp.post("/read")
def read(product_id):
    inquiry = identity.own_inquiry(product_id)
    conversations.mark_read(inquiry.id if inquiry else None, reader="customer")
    return "", 204


@bp.get("/badge")
def badge(product_id):
    conversations.get_product(product_id)
    inquiry = identity.own_inquiry(product_id)
    count = conversations.unread_count(inquiry.id if inquiry else None, reader="customer")
    return render_fragment("customer/_badge.html", unread=count)


@bp.get("/stream")
def stream(product_id):
    """Server-sent events for this session's conversation about the product."""
    session_id = identity.from_request()
    if not session_id or not current_app.config["SSE_ENABLED"]:
        return "", 204  # EventSource stops retrying on 204; the widget polls instead
    conversations.get_product(product_id)
    return event_stream(CustomerStream(product_id, session_id), last_event_id())


@bp.post("/typing")
@typing_limit
def typing(product_id):
    inquiry = identity.own_inquiry(product_id)
    if inquiry is not None:
        events.publish_now(events.inquiry_channel(inquiry.id), "typing",
                           {"inquiry_id": inquiry.id, "product_id": product_id, "from": "customer"})
    return "", 204


@bp.get("/resume/<token>")
def resume(product_id, token):
    """The link in an answer email: back into this conversation, in any browser."""
    conversations.get_product(product_id)
    session_id = identity.read_resume_token(token)
    target = url_for("storefront.product_detail", product_id=product_id, chat="open")
    response = redirect(target, code=303)
    if session_id and conversations.find_inquiry(product_id, session_id) is not None:
        identity.adopt(session_id)
    return response
