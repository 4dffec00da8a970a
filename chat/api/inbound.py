"""``POST /api/inbound/email``: a mail provider's inbound webhook hands us a reply mail.

The body is the raw MIME mail; the provider sends ``Authorization: Bearer
<INBOUND_EMAIL_SECRET>`` (compared in constant time). What the mail becomes is
``services.mail_in``'s business: this view only checks the caller and the size.
"""

import hmac

from flask import Blueprint, current_app, jsonify, request

from ..inputs import larger_body
from ..services import mail_in
from ..services.errors import BadParameter, NotFound

bp = Blueprint("inbound", __name__, url_prefix="/inbound")


def _authorised():
    secret = current_app.config.get("INBOUND_EMAIL_SECRET") or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), secret.encode())


@bp.post("/email")
@larger_body("INBOUND_EMAIL_MAX_BYTES")
def inbound_email():
    """Take one mail: 202 ``{"outcome": ...}`` (stored as a message, or dropped and why, or
    a duplicate); 401 without the secret; 404 while mail-in is off (no
    ``MAIL_REPLY_DOMAIN`` or no secret); 400 for an empty body; 413 past
    ``INBOUND_EMAIL_MAX_BYTES``."""
    if not (current_app.config.get("MAIL_REPLY_DOMAIN") and current_app.config.get("INBOUND_EMAIL_SECRET")):
        raise NotFound("Mail-in is off: set MAIL_REPLY_DOMAIN and INBOUND_EMAIL_SECRET.")
    if not _authorised():
        return (
            jsonify(error="Send the inbound secret: Authorization: Bearer <INBOUND_EMAIL_SECRET>."),
            401,
            {"WWW-Authenticate": 'Bearer realm="inbound"'},
        )
    raw = request.get_data(cache=False)  # past the limit: Werkzeug's 413
    if not raw.strip():
        raise BadParameter("The body must be the mail, as raw MIME.", {"body": "empty"})
    result = mail_in.receive(raw)
    body = {"outcome": result.outcome, "inquiry_id": result.inquiry_id, "message_id": result.message_id}
    return jsonify(body), 202
