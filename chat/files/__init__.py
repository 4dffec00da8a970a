"""Attachment files, served from signed short-lived URLs to the conversation's people only.

- ``GET /attachments/<id>?t=<token>``: the file (images inline, PDFs as downloads);
- ``GET /attachments/<id>/thumbnail?t=<token>``: an image's thumbnail.

The token (``services.attachment_links.link``) names the file, its conversation and an
audience, and lives ``CHAT_ATTACHMENT_URL_SECONDS``. A shopper's URL needs nothing
more (an ``<img>`` in the widget cannot send our session header), but a request
that does say who it is must be that conversation's shopper, and a URL made before
the shopper's sessions were ended (erase, "End their chat sessions") is refused.
An admin's URL needs an admin: the panel's login, or an API token. Every answer
carries ``nosniff`` and a sandboxing CSP, so no file can run as a page of ours.
"""

import time
import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wsgi import wrap_file

from .. import identity, storage
from ..extensions import db
from ..models import ProductInquiry
from ..services import access, admin_tokens, attachment_links
from ..services.errors import Forbidden, NotFound, ServiceError

bp = Blueprint("files", __name__)

# Whatever a file holds, it is never a document of ours: no scripts, no plugins, no same-origin.
FILE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
UNAVAILABLE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">'
    '<rect width="240" height="160" fill="#eceff1"/>'
    '<text x="120" y="86" font-family="sans-serif" font-size="16" text-anchor="middle" fill="#455a64">'
    "File unavailable</text></svg>"
)


class StorageDown(ServiceError):
    status = 503


@bp.get("/attachments/<id:attachment_id>")
def download(attachment_id):
    """The file: 200; 403 bad, expired or not yours; 404 erased or unavailable."""
    return _serve(attachment_id, thumbnail=False)


@bp.get("/attachments/<id:attachment_id>/thumbnail")
def thumbnail(attachment_id):
    """The image's thumbnail: 200; 403 bad, expired or not yours; 404 with a "File unavailable" picture."""
    return _serve(attachment_id, thumbnail=True)


def _serve(attachment_id, thumbnail):
    grant = attachment_links.redeem(attachment_id, request.args.get("t"))
    _check_audience(grant)
    attachment = grant.attachment
    try:
        fileobj, size, content_type = attachment_links.open_file(attachment, thumbnail=thumbnail)
    except storage.MissingObject:
        return _unavailable(thumbnail)
    except storage.StorageUnavailable:
        raise StorageDown("Files cannot be shown just now. Please try again in a moment.") from None
    response = Response(wrap_file(request.environ, fileobj), content_type=content_type, direct_passthrough=True)
    response.content_length = size
    response.headers["Content-Disposition"] = _disposition(
        "inline" if attachment.is_image else "attachment", attachment.filename
    )
    _protect(response, grant)
    return response


def _check_audience(grant):
    if grant.audience == "admin":
        admin = _admin()
        if admin is None:
            raise Forbidden(gettext("Log in to the admin panel to see this file."))
        # An admin's link works for the people of the conversation's site only (access.py).
        if not access.can_see_inquiry(admin, grant.attachment.inquiry_id):
            raise NotFound(gettext("No such file in your inquiries."))
        return
    session_id = db.session.scalar(
        db.select(ProductInquiry.session_id).where(ProductInquiry.id == grant.attachment.inquiry_id)
    )
    if session_id is None or identity.is_revoked(session_id, grant.issued_ms):
        raise Forbidden(gettext("This link is no longer valid."))
    caller = identity.from_request()
    if caller is not None and caller != session_id:
        raise NotFound(gettext("No such file in your conversations."))


def _admin():
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return admin_tokens.user_for(header[7:].strip())
    return current_user if current_user.is_authenticated else None


def _disposition(kind, filename):
    """``inline`` or ``attachment`` with the file's name (RFC 6266: an ASCII fallback and UTF-8)."""
    simple = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    simple = "".join(ch for ch in simple if ch.isprintable() and ch not in '"\\') or "file"
    value = f'{kind}; filename="{simple}"'
    if simple != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def _protect(response, grant):
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_POLICY
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Referrer-Policy"] = "no-referrer"
    if grant is not None:
        # Private to this browser, and no longer than the URL itself lives.
        left = grant.issued_ms / 1000 + current_app.config["CHAT_ATTACHMENT_URL_SECONDS"] - time.time()
        response.headers["Cache-Control"] = f"private, max-age={max(0, int(left))}"
    else:
        response.headers["Cache-Control"] = "no-store"


def _unavailable(thumbnail):
    """The row is there, its bytes are not (the database is the truth): say so, never a 500."""
    if not thumbnail:
        raise NotFound(gettext("File unavailable: it could not be found in storage."))
    response = Response(UNAVAILABLE_SVG, status=404, content_type="image/svg+xml")
    _protect(response, None)
    return response
