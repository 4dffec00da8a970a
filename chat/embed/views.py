"""The chat page in the widget's iframe, and the fragments it loads and posts."""

import json

from flask import current_app, g, jsonify, render_template, request, url_for

from .. import i18n, identity, security
from ..htmx import render_fragment
from ..inputs import accepts_files, optional_id, parse_since, uploaded_files
from ..limits import send_limit, typing_limit
from ..models import utcnow
from ..services import ValidationError, attachments, conversations, products, shoppers, sites
from . import bp


def _inquiry():
    """The caller's conversation about this page's product, or None."""
    session_id = identity.from_request()
    product = g.chat_product
    if session_id is None or product is None:
        return None
    return conversations.find_inquiry(product.id, session_id)


def _fragment(template, **context):
    """A fragment rendered for the shopper, with where their older messages come from."""
    context.setdefault("viewer", "customer")
    context.setdefault("messages_url", url_for("embed.messages"))
    return render_fragment(template, **context)


def _unread_header(response):
    """Polling clients learn the site-wide unread count from an HX-Trigger header."""
    session_id = identity.from_request()
    if session_id:
        count = conversations.unread_across(session_id, g.chat_site.id)
        response.headers["HX-Trigger"] = json.dumps({"chat:unread": count})
    return response


@bp.get("/embed/<site>/products/<external:external_id>")
def page():
    """The chat as a page of its own: the widget frames it on the shop's product page.

    It renders without knowing the shopper (an iframe navigation carries no
    header); the conversation loads once the loader has handed over the token.
    """
    security.allow_framing(g.chat_site.origins)
    # Our own pages (the demo shop, a site's live preview in the panel) frame every site's chat.
    parent_origins = sorted(set(g.chat_site.origins) | {sites.own_origin()})
    return render_template(
        "embed/page.html",
        site=g.chat_site,
        product=g.chat_product,
        external_id=g.chat_external_id,
        parent_origins=parent_origins,
    )


@bp.get("/embed/<site>/products/<external:external_id>/conversation")
def conversation():
    """The shopper's conversation here: history, the live stream, the email form."""
    inquiry = _inquiry()
    session_id = identity.from_request()
    page = conversations.list_messages(inquiry.id if inquiry else None, limit=current_app.config["CHAT_PAGE_SIZE"])
    response = _fragment(
        "embed/_conversation.html",
        site=g.chat_site,
        product=g.chat_product,
        inquiry=inquiry,
        page=page,
        shopper=shoppers.find(session_id),
        has_session=session_id is not None,
        since=utcnow().isoformat(),
    )
    if inquiry is not None:
        # Marked after rendering: the commit would expire the loaded messages.
        conversations.mark_delivered(inquiry.id, "customer", [m.id for m in page.messages])
    return _unread_header(response)


@bp.get("/embed/<site>/products/<external:external_id>/messages")
def messages():
    """Older messages (``before``), or what changed since the last poll (``after``, ``since``)."""
    after, before = optional_id("after", allow_zero=True), optional_id("before")
    since = parse_since(request.args.get("since"))
    inquiry = _inquiry()
    inquiry_id = inquiry.id if inquiry else None
    page = conversations.list_messages(
        inquiry_id, before=before, after=after, limit=current_app.config["CHAT_PAGE_SIZE"]
    )
    if before is not None:
        return _fragment("conversation/_older.html", page=page)
    now = utcnow()
    marks = conversations.marks_since(inquiry_id, "customer", since) if since else []
    if after is not None and not page.messages and not marks:
        return _unread_header(current_app.response_class(status=204))  # polling: nothing new, no rendering
    response = _fragment(
        "conversation/_updates.html",
        page=page,
        marks=marks,
        since=now.isoformat(),
        after=page.messages[-1].id if page.messages else after or 0,
    )
    if inquiry_id:
        conversations.mark_delivered(inquiry_id, "customer", [m.id for m in page.messages])
    return _unread_header(response)


@bp.post("/embed/<site>/products/<external:external_id>/messages")
@send_limit
@accepts_files
def send():
    """Send a message, with up to CHAT_ATTACHMENTS_PER_MESSAGE ``files``; the first one about
    an unsynced product makes its placeholder. Refused files: 413/415/422/429, each named."""
    session_id = identity.ensure()
    text = request.form.get("message_text", "")
    # The files first: nothing is written (no placeholder held) while they are re-encoded.
    prepared = attachments.receive(uploaded_files(), budget_key=session_id)
    try:
        product = products.for_chat(
            g.chat_site,
            g.chat_external_id,
            request.form.get("page_title"),
            request.form.get("page_url"),
            known=g.chat_product,
        )
    except BaseException:
        attachments.discard(prepared)
        raise
    result = conversations.send_customer_message(
        product.id, session_id, text, request.form.get("client_message_id"), files=prepared, language=i18n.current()
    )
    return _fragment(
        "embed/_sent.html",
        message=result.message,
        site=g.chat_site,
        shopper=shoppers.find(session_id),
        new_conversation=result.new_inquiry,
        status=201 if result.created else 200,
    )


@bp.post("/embed/<site>/products/<external:external_id>/read")
def read():
    """The shopper has seen the shop's answers here."""
    inquiry = _inquiry()
    conversations.mark_read(inquiry.id if inquiry else None, reader="customer")
    session_id = identity.from_request()
    unread = conversations.unread_across(session_id, g.chat_site.id) if session_id else 0
    return jsonify(unread=unread)


@bp.post("/embed/<site>/products/<external:external_id>/typing")
@typing_limit
def typing():
    """The shopper is typing (ephemeral: no row, nothing stored)."""
    inquiry = _inquiry()
    if inquiry is not None:
        conversations.announce_typing(inquiry, "customer")
    return "", 204


@bp.post("/embed/<site>/email")
def email():
    """Leave an email (with consent) for the shop's answers to all of the shopper's questions."""
    session_id = identity.from_request()
    address = request.form.get("customer_email", "")
    try:
        shopper = shoppers.set_email(session_id, address, request.form.get("email_consent") == "yes")
    except ValidationError as error:
        # Shown next to the input, keeping what was typed.
        return render_fragment(
            "embed/_email.html",
            status=error.status,
            error=error,
            email=address,
            shopper=shoppers.find(session_id),
            has_conversation=session_id is not None,
        )
    return render_fragment("embed/_email.html", shopper=shopper, saved=True, has_conversation=True)


@bp.post("/embed/<site>/email/forget")
def forget_email():
    """Remove the shopper's email."""
    session_id = identity.from_request()
    shopper = shoppers.forget_email(session_id) if session_id else None
    return render_fragment("embed/_email.html", shopper=shopper, forgotten=True, has_conversation=shopper is not None)


@bp.get("/embed/<site>/conversations")
def questions():
    """ "Your questions": the shopper's conversations on this site."""
    session_id = identity.from_request()
    rows = conversations.questions_of(session_id, g.chat_site.id) if session_id else []
    current = request.args.get("current", "")
    return render_fragment("embed/_questions.html", rows=rows, current=current)


@bp.get("/embed/<site>/unread")
def unread():
    """Unread answers across the site (the badge)."""
    session_id = identity.from_request()
    return jsonify(unread=conversations.unread_across(session_id, g.chat_site.id) if session_id else 0)
