"""Who the customer is: a random session id in a signed, dated token.

The id is 192 random bits made on the server. It travels as a token signed
with itsdangerous that also carries when it was issued, so the server can
refuse tokens older than ``CHAT_SESSION_DAYS``, renew active ones, and refuse
every token issued before an admin revoked the customer's sessions.

The token rides in the ``X-Chat-Session`` header (the embedded widget keeps it
in the host page's storage: nothing depends on third-party cookies) or in an
HttpOnly cookie for callers of the JSON API from our own pages. Nothing else
(no query parameter, no form field) can name a session, so a request can only
ever reach its own conversations.

Resume tokens (the links in answer emails) live here too: they name a session
for a limited time and are exchanged for a fresh session token.
"""

import secrets
import time
from datetime import UTC

import sqlalchemy as sa
from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from .extensions import db

COOKIE_NAME = "chat_session"
HEADER_NAME = "X-Chat-Session"
# An active token older than this is replaced by a fresh one (sliding expiry).
RENEW_AFTER_SECONDS = 24 * 3600


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="chat-session-v2")


def _now_ms():
    return int(time.time() * 1000)


def new_session_id():
    return secrets.token_urlsafe(24)


def sign(session_id, issued_ms=None):
    """A token for ``session_id``, issued now (milliseconds since the epoch)."""
    return _serializer().dumps([session_id, issued_ms or _now_ms()])


def read(token):
    """``(session_id, issued_ms)`` for a well-signed, unexpired token, else None.

    Revocation is checked separately (``is_revoked``), as it needs the database.
    """
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], str)
        or len(value[0]) < 22
        or not isinstance(value[1], int)
        or isinstance(value[1], bool)
    ):
        return None
    session_id, issued_ms = value
    age = _now_ms() - issued_ms
    if age < -60_000 or age > current_app.config["CHAT_SESSION_DAYS"] * 86_400_000:
        return None
    return session_id, issued_ms


def is_revoked(session_id, issued_ms):
    """Was every token issued at ``issued_ms`` for this session revoked since?"""
    from .models import Shopper

    valid_after = db.session.scalar(sa.select(Shopper.tokens_valid_after).filter_by(session_id=session_id))
    return valid_after is not None and issued_ms <= _epoch_ms(valid_after)


def _epoch_ms(naive_utc):
    return int(naive_utc.replace(tzinfo=UTC).timestamp() * 1000)


def session_from_token(token):
    """The session id a token names, if it is valid, unexpired and not revoked."""
    parsed = read(token)
    if parsed is None or is_revoked(*parsed):
        return None
    return parsed[0]


def from_request():
    """The caller's session id, or None if it has none (yet)."""
    if "chat_session_outage" in g:
        # The database failed on the first look: every later caller (limits, the view) meets it at once.
        raise g.chat_session_outage
    if "chat_session_id" not in g:
        header = request.headers.get(HEADER_NAME)
        # An empty header means "no session yet" (and never falls back to the cookie).
        token = header if HEADER_NAME in request.headers else request.cookies.get(COOKIE_NAME)
        parsed = read(token)
        try:
            if parsed is not None and is_revoked(*parsed):
                parsed = None
        except Exception as error:
            from .errors import is_outage

            if is_outage(error):
                g.chat_session_outage = error
            raise
        g.chat_session_id = parsed[0] if parsed else None
        g.chat_session_via_header = HEADER_NAME in request.headers
        if parsed and _now_ms() - parsed[1] > RENEW_AFTER_SECONDS * 1000:
            g.chat_session_renew = True
    return g.chat_session_id


def without_database():
    """The database is down (a 503 is on its way): a token not read yet stays unread,
    since its revocation cannot be checked; a session minted in this request is kept."""
    g.pop("chat_session_outage", None)
    if "chat_session_id" not in g:
        g.chat_session_id = None
        g.chat_session_via_header = HEADER_NAME in request.headers


def ensure():
    """The caller's session id, making a new one (sent back after the request)."""
    session_id = from_request()
    if session_id is None:
        session_id = new_session_id()
        g.chat_session_id = session_id
        g.chat_session_new = True
    return session_id


def is_new():
    return bool(g.get("chat_session_new"))


def adopt(session_id):
    """Make this client hold ``session_id`` from now on (a resume link, a verified identity)."""
    g.chat_session_id = session_id
    g.chat_session_new = True


def via_header():
    from_request()
    return g.get("chat_session_via_header", False)


def csrf_unless_header():
    """before_request for customer routes: when is a CSRF token needed?

    When the session comes from our cookie (browsers attach it to forged
    requests), and for any form post without our header (a cross-site page can
    send one, and its answer could replace the shopper's cookie). A request with
    the ``X-Chat-Session`` header (even empty: "no session yet") or a JSON body
    cannot be sent cross-site without a CORS preflight, so it needs none.
    """
    from .extensions import csrf

    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    header = HEADER_NAME in request.headers
    cookie_session = not header and request.cookies.get(COOKIE_NAME)
    simple_form = not header and not request.is_json
    if cookie_session or simple_form:
        csrf.protect()


def header_only():
    """This request's answers hand the session over in the header only (the embedded widget)."""
    g.chat_session_header_only = True


def attach(response):
    """after_request: hand a new or renewed token to the client."""
    if g.get("chat_session_new") or g.get("chat_session_renew"):
        if g.get("chat_session_id") is None:
            return response
        token = sign(g.chat_session_id)
        response.headers[HEADER_NAME] = token
        # Cross-origin callers (CORS) may read the header only when told so.
        response.headers.add("Access-Control-Expose-Headers", HEADER_NAME)
        if not g.get("chat_session_via_header") and not g.get("chat_session_header_only"):
            response.set_cookie(
                COOKIE_NAME,
                token,
                max_age=current_app.config["CHAT_SESSION_DAYS"] * 86400,
                httponly=True,
                secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
                samesite="Lax",
            )
    return response


def own_inquiry(product_id):
    """The caller's own inquiry about the product, or None (no session, or no message yet)."""
    from .services import conversations

    session_id = from_request()
    return conversations.find_inquiry(product_id, session_id) if session_id else None


def rate_key():
    """Whom a rate limit counts: the chat session, or the address of a caller with none."""
    return from_request() or request.remote_addr


# -- resume links (answer emails) --------------------------------------------


def _resume_serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="chat-resume")


def resume_token(session_id):
    return _resume_serializer().dumps(session_id)


def read_resume_token(token, max_age_days=30):
    """The session a resume link names, unless it is altered, expired or revoked."""
    try:
        session_id, issued = _resume_serializer().loads(token, max_age=max_age_days * 86400, return_timestamp=True)
    except Exception:  # noqa: BLE001 - bad, altered or expired: no session
        return None
    if not isinstance(session_id, str) or is_revoked(session_id, int(issued.timestamp() * 1000)):
        return None
    return session_id
