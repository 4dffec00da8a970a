"""Customer endpoints: GET/POST /api/products/<id>/messages, PUT .../messages/read."""

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext

from .. import i18n, identity
from ..inputs import accepts_files, field, json_object, optional_id, optional_int, uploaded_files
from ..limits import send_limit
from ..services import ValidationError, attachments, conversations, shoppers, validation
from ..services.errors import Forbidden, NotFound
from . import cors
from .serializers import inquiry_dict, message_dict

bp = Blueprint("customer", __name__)


bp.before_request(identity.csrf_unless_header)
bp.after_request(cors.add_headers)


@bp.after_request
def csrf_token_for_cookie_callers(response):
    """A caller whose session rides on our cookie needs the CSRF token for its next
    change: hand it over in a header (only same-origin scripts can read it)."""
    from flask_wtf.csrf import generate_csrf

    if not identity.via_header() and (request.cookies.get(identity.COOKIE_NAME) or identity.is_new()):
        response.headers["X-CSRFToken"] = generate_csrf()
    return response


def _session_from_body(data):
    """The seed lets the body carry session_id: accept only the caller's own signed token."""
    token = data.get("session_id")
    if token is None:
        return identity.ensure()
    if not isinstance(token, str):
        raise ValidationError(gettext("session_id must be a string."), {"session_id": gettext("must be a string")})
    claimed = identity.session_from_token(token)
    current = identity.from_request()
    if claimed is None or (current is not None and claimed != current):
        raise Forbidden(gettext("That is not your chat session."), {"session_id": gettext("not the caller's session")})
    return claimed


def _inquiry_json(inquiry):
    if inquiry is None:
        return None
    count = conversations.message_count(inquiry.id, viewer="customer")
    return inquiry_dict(inquiry, count, conversations.unread_count(inquiry.id, reader="customer"))


@bp.get("/products/<id:product_id>/messages")
def list_product_messages(product_id):
    """The caller's own conversation about the product, a page at a time."""
    before, after = optional_id("before"), optional_id("after", allow_zero=True)
    limit = optional_int("limit", current_app.config["CHAT_PAGE_SIZE"], 1, 100)
    conversations.get_product(product_id)
    inquiry = identity.own_inquiry(product_id)
    page = conversations.list_messages(inquiry.id if inquiry else None, before=before, after=after, limit=limit)
    body = dict(
        inquiry=_inquiry_json(inquiry),
        messages=[message_dict(m, viewer="customer") for m in page.messages],
        has_older=page.has_older,
    )
    if inquiry is not None:
        # The customer's fetch received the shop's answers: they are delivered.
        conversations.mark_delivered(inquiry.id, "customer", [m.id for m in page.messages])
    return jsonify(body)


def send_body():
    """A send's fields and files: a JSON object, or ``multipart/form-data`` with ``files`` parts."""
    if request.mimetype != "multipart/form-data":
        return json_object(), []
    data = request.form.to_dict()
    if "email_consent" in data:
        data["email_consent"] = data["email_consent"].strip().lower() in ("true", "1", "yes", "on")
    return data, uploaded_files()


@bp.post("/products/<id:product_id>/messages")
@send_limit
@accepts_files
def send_product_message(product_id):
    """A customer's message, JSON or multipart with up to CHAT_ATTACHMENTS_PER_MESSAGE ``files``
    (201 new, 200 when its client id was stored before; 413/415/422/429 for refused files)."""
    data, files = send_body()
    sender_type = data.get("sender_type", "customer")
    if sender_type == "admin":
        raise Forbidden(
            gettext("Customers cannot send as the shop; admins answer through the admin API."),
            {"sender_type": gettext("only 'customer' is allowed here")},
        )
    if sender_type != "customer":
        raise ValidationError(
            gettext("sender_type must be 'customer'."), {"sender_type": gettext("must be 'customer'")}
        )
    if not files:
        field(data, "message_text")
    email = data.get("customer_email")
    if email is not None:
        # Checked before anything is stored, so a bad email stores no message.
        email = validation.email(email)
        if data.get("email_consent") is not True:
            raise ValidationError(
                gettext("Storing an email needs email_consent: true."),
                {"email_consent": gettext("must be true to store customer_email")},
            )
    session_id = _session_from_body(data)
    # Held while the service runs: the session's identity map keeps only referenced rows,
    # and the service's own get_product then costs no second SELECT.
    product = conversations.get_product(product_id)  # noqa: F841
    prepared = attachments.receive(files, budget_key=session_id)
    result = conversations.send_customer_message(
        product_id,
        session_id,
        data.get("message_text"),
        data.get("client_message_id"),
        files=prepared,
        language=i18n.current() if request.accept_languages else None,  # their emails speak it
    )
    if email is not None:
        shoppers.set_email(session_id, email, True)
    response = jsonify(message_dict(result.message, viewer="customer"))
    response.status_code = 201 if result.created else 200
    response.headers[identity.HEADER_NAME] = identity.sign(session_id)
    return response


@bp.put("/products/<id:product_id>/messages/read")
def mark_product_messages_read(product_id):
    """The caller has read the shop's answers (all, or the listed ids)."""
    data = json_object(optional=True)
    message_ids = validation.message_id_list(data.get("message_ids"))
    conversations.get_product(product_id)
    inquiry = identity.own_inquiry(product_id)
    if inquiry is None:
        raise NotFound(gettext("No conversation about this product yet."), {"inquiry": gettext("none yet")})
    marked = conversations.mark_read(inquiry.id, reader="customer", message_ids=message_ids)
    return jsonify(marked=marked, unread_count=conversations.unread_count(inquiry.id, reader="customer"))


@bp.post("/products/<id:product_id>/rating")
def rate_product_answer(product_id):
    """The caller rates the shop's answer in their own resolved conversation (again: replaces it)."""
    from ..services import ratings

    data = json_object()
    conversations.get_product(product_id)
    inquiry = identity.own_inquiry(product_id)
    if inquiry is None:
        raise NotFound(gettext("No conversation about this product yet."), {"inquiry": gettext("none yet")})
    return jsonify(ratings.as_dict(ratings.rate(inquiry, data.get("rating"), data.get("comment"))))
