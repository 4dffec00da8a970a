"""The seed's admin endpoints (plus priority and assignment), for scripts and integrations.

Authenticated by the admin's login session (with the CSRF token for changes)
or by an API token the admin created (``Authorization: Bearer ...``).
"""

from flask import Blueprint, current_app, g, jsonify, request, send_file
from flask_babel import gettext
from flask_login import current_user

from ..extensions import csrf
from ..inputs import accepts_files, field, json_object, optional_id, optional_int
from ..services import ValidationError, access, admin_tokens, attachments, conversations, inquiries, ratings
from .serializers import inquiry_dict, iso, message_dict

bp = Blueprint("admin", __name__, url_prefix="/admin")


def current_admin():
    """The admin behind this request, by bearer token or login session; None if neither."""
    if "api_admin" not in g:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            # The token's row (the audit log names it); its owner acts, with their rights of now.
            g.api_token = admin_tokens.token_for(header[7:].strip())
            g.api_admin = g.api_token.user if g.api_token is not None else None
            g.api_admin_by_token = True
        else:
            g.api_admin = current_user._get_current_object() if current_user.is_authenticated else None
            g.api_admin_by_token = False
    return g.api_admin


@bp.before_request
def admin_api_auth():
    if current_admin() is None:
        return jsonify(error=gettext("Log in, or send an admin API token (Authorization: Bearer ...).")), 401
    # Session callers carry the CSRF token; a bearer token cannot be sent cross-site.
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not g.api_admin_by_token:
        csrf.protect()
    # The token's owner's rights as they are now: role, and the named object's site.
    access.check_route(current_admin(), request.endpoint, request.view_args)
    return None


def _inquiry_json(row):
    data = inquiry_dict(row.inquiry, row.message_count, row.unread_count)
    data["waiting_since"] = iso(row.inquiry.waiting_since)
    data["last_message"] = message_dict(row.last_message) if row.last_message else None
    data["assigned_admin_name"] = row.inquiry.assigned_admin.name if row.inquiry.assigned_admin else None
    data["rating"] = ratings.as_dict(row.inquiry) if row.inquiry.rating else None
    return data


def _one(inquiry):
    return _inquiry_json(inquiries.rows_for([inquiry])[0])


@bp.get("/inquiries")
def admin_list_inquiries():
    """The queue, filtered like the panel's list; keyset pages via ``after``."""
    filters = inquiries.Filters.parse(request.args)
    limit = optional_int("limit", current_app.config["ADMIN_PAGE_SIZE"], 1, 200)
    page = inquiries.list_inquiries(
        filters, current_admin(), after=inquiries.queue_cursor(request.args.get("after")), limit=limit
    )
    return jsonify(inquiries=[_inquiry_json(r) for r in page.rows], next_after=page.next_after)


@bp.get("/inquiries/<id:inquiry_id>")
def admin_get_inquiry(inquiry_id):
    """One inquiry with a page of its messages (internal notes included)."""
    inquiry = inquiries.get(inquiry_id)
    page = conversations.list_messages(
        inquiry.id, before=optional_id("before"), after=optional_id("after", allow_zero=True), limit=100, viewer="admin"
    )
    return jsonify(inquiry=_one(inquiry), messages=[message_dict(m) for m in page.messages], has_older=page.has_older)


@bp.post("/inquiries/<id:inquiry_id>/respond")
@accepts_files
def admin_respond(inquiry_id):
    """Answer the customer, JSON or multipart with ``files`` (201; 200 with the stored answer
    when its client id repeats; 413/415/422 for refused files)."""
    from .customer import send_body

    data, files = send_body()
    if not files:
        field(data, "message_text")
    admin = current_admin()
    claimed = data.get("admin_id")
    # The seed's AdminResponse names admin_id; it must be the caller, never someone else.
    if files or request.mimetype == "multipart/form-data":
        claimed = None if claimed in (None, "") else claimed.strip()
        claimed = int(claimed) if claimed is not None and claimed.isascii() and claimed.isdigit() else claimed
    if claimed is not None and claimed != admin.id:
        raise ValidationError(
            gettext("admin_id must be your own id (or left out)."), {"admin_id": gettext("not the caller")}
        )
    inquiries.get(inquiry_id)
    prepared = attachments.receive(files)
    result = inquiries.respond(
        inquiry_id, admin, data.get("message_text"), data.get("client_message_id"), files=prepared
    )
    return jsonify(message_dict(result.message)), 201 if result.created else 200


@bp.put("/inquiries/<id:inquiry_id>/status")
def admin_set_status(inquiry_id):
    """Change the status (a note for admins when it really changes)."""
    status = field(json_object(), "status", str)
    return jsonify(_one(inquiries.set_status(inquiry_id, current_admin(), status)))


@bp.put("/inquiries/<id:inquiry_id>/priority")
def admin_set_priority(inquiry_id):
    """Change the priority; raising it to high emails the admins."""
    priority = field(json_object(), "priority", str)
    return jsonify(_one(inquiries.set_priority(inquiry_id, current_admin(), priority)))


@bp.put("/inquiries/<id:inquiry_id>/assignee")
def admin_assign(inquiry_id):
    """Assign to an admin (``admin_id``) or to nobody (null)."""
    return jsonify(_one(inquiries.assign(inquiry_id, current_admin(), field(json_object(), "admin_id"))))


def _customer_from(source):
    """The customer named by ``email`` or ``inquiry_id`` (query string or JSON body)."""
    from ..services import privacy

    email, inquiry_id = source.get("email"), source.get("inquiry_id")
    return privacy.find_customer(email=email or None, inquiry_id=inquiry_id if inquiry_id not in ("", None) else None)


@bp.get("/customers/export")
def admin_export_customer():
    """Everything stored about one customer (``?email=`` or ``?inquiry_id=``): JSON, or with
    ``format=zip`` a zip of that JSON (``customer.json``) and the files sent (``files/``)."""
    from ..services import privacy

    export_format = request.args.get("format", "json")
    if export_format not in ("json", "zip"):
        raise ValidationError(gettext("format must be json or zip."), {"format": gettext("json or zip")})
    customer = _customer_from(request.args)
    if export_format == "zip":
        response = send_file(
            privacy.export_zip(customer), mimetype="application/zip", as_attachment=True, download_name="customer.zip"
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    return jsonify(privacy.export(customer))


@bp.post("/customers/erase")
def admin_erase_customer():
    """Delete all data of one customer (``{"email"}`` or ``{"inquiry_id"}``); returns counts."""
    from ..services import privacy

    return jsonify(erased=privacy.erase(_customer_from(json_object())))


@bp.post("/customers/revoke-sessions")
def admin_revoke_customer_sessions():
    """End every chat session of one customer (``{"email"}`` or ``{"inquiry_id"}``)."""
    from ..services import shoppers

    return jsonify(revoked_sessions=shoppers.revoke(_customer_from(json_object()).sessions))


# Routes on this blueprint: business hours and metrics; people, invitations, the audit log; a site's languages.
from . import admin_hours_metrics, admin_languages, admin_people  # noqa: E402,F401
