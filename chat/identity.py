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

Resume tokens (the links in answer emails) live here too: they name a session,
the address they were mailed to and a nonce, for ``CHAT_RESUME_LINK_HOURS``
(``chat/services/resume_links.py`` redeems them, once). A session token got
from one is marked: such a session never feeds ``identify`` (a link someone
else sent must not become a verified customer's history).
"""

import secrets
import time
from datetime import UTC
from typing import NamedTuple

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


RESUMED = "r"  # the third element of a token got from a resume link


class Token(NamedTuple):
    session_id: str
    issued_ms: int
    resumed: bool  # got from a resume link: never feeds identify


def sign(session_id, issued_ms=None, resumed=False):
    """A token for ``session_id``, issued now (milliseconds since the epoch)."""
    return _serializer().dumps([session_id, issued_ms or _now_ms()] + ([RESUMED] if resumed else []))


def read(token):
    """The ``Token`` of a well-signed, unexpired token, else None.

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
        or len(value) not in (2, 3)
        or not isinstance(value[0], str)
        or len(value[0]) < 22
        or not isinstance(value[1], int)
        or isinstance(value[1], bool)
        or value[2:] not in ([], [RESUMED])
    ):
        return None
    age = _now_ms() - value[1]
    if age < -60_000 or age > current_app.config["CHAT_SESSION_DAYS"] * 86_400_000:
        return None
    return Token(value[0], value[1], len(value) == 3)


def is_revoked(session_id, issued_ms, keep=False):
    """Was every token issued at ``issued_ms`` for this session revoked since?

    ``keep``: read the whole shopper row and keep it for this request (``loaded_shopper``):
    the same statement, and a send then updates the row without reading it again.
    """
    from .models import Shopper

    if keep:
        shopper = db.session.scalar(sa.select(Shopper).filter_by(session_id=session_id))
        g.chat_shopper = shopper
        valid_after = shopper.tokens_valid_after if shopper is not None else None
    else:
        valid_after = db.session.scalar(sa.select(Shopper.tokens_valid_after).filter_by(session_id=session_id))
    return valid_after is not None and issued_ms <= _epoch_ms(valid_after)


def loaded_shopper(session_id):
    """The shopper row of ``session_id`` this request read for its token, if it is still as
    read: in this transaction (not expired by a commit or rollback since), not deleted."""
    from flask import has_request_context

    shopper = g.get("chat_shopper") if has_request_context() else None
    if shopper is None:
        return None
    state = sa.inspect(shopper)
    if state.expired or state.session is not db.session() or state.deleted or state.was_deleted:
        return None
    return shopper if state.dict.get("session_id") == session_id else None


def _epoch_ms(naive_utc):
    return int(naive_utc.replace(tzinfo=UTC).timestamp() * 1000)


def session_from_token(token):
    """The session id a token names, if it is valid, unexpired and not revoked."""
    parsed = read(token)
    if parsed is None or is_revoked(parsed.session_id, parsed.issued_ms):
        return None
    return parsed.session_id


def from_request():
    """The caller's session id, or None if it has none (yet)."""
    if "chat_session_outage" in g:
        # The database failed on the first look: every later caller (limits, the view) meets it at once.
        raise g.chat_session_outage
    if "chat_session_id" not in g:
        # An empty header means "no session yet" (and never falls back to the cookie).
        token = request.headers.get(HEADER_NAME) if HEADER_NAME in request.headers else request.cookies.get(COOKIE_NAME)
        parsed = read(token)
        try:
            if parsed is not None and is_revoked(parsed.session_id, parsed.issued_ms, keep=True):
                parsed = None
        except Exception as error:
            from .errors import is_outage

            if is_outage(error):
                g.chat_session_outage = error
            raise
        g.chat_session_id = parsed.session_id if parsed else None
        g.chat_session_resumed = bool(parsed and parsed.resumed)
        g.chat_session_via_header = HEADER_NAME in request.headers
        if parsed and _now_ms() - parsed.issued_ms > RENEW_AFTER_SECONDS * 1000:
            g.chat_session_renew = True
    return g.chat_session_id


def resumed():
    """Does the caller's session come from a resume link (in this browser)?"""
    from_request()
    return g.get("chat_session_resumed", False)


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


def adopt(session_id, resumed=False):
    """Make this client hold ``session_id`` from now on (a resume link, a verified identity)."""
    g.chat_session_id = session_id
    g.chat_session_resumed = resumed
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
        token = sign(g.chat_session_id, resumed=g.get("chat_session_resumed", False))
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


class ResumeLink(NamedTuple):
    session_id: str
    email: str
    site: str  # the site's public id
    nonce: str


def _resume_serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="chat-resume-v2")


def resume_token(session_id, email, site):
    """A token for an answer mail to ``email``: names the session on ``site``, works once."""
    return _resume_serializer().dumps([session_id, email, site, secrets.token_hex(16)])


def read_resume_token(token):
    """The ``ResumeLink`` a token names, unless it is altered, expired or its session revoked.

    Whether it was used already, and whether the session still has that email, is
    for the caller (``chat/services/resume_links.py``) to check.
    """
    if not isinstance(token, str) or len(token) > 600:
        return None
    max_age = current_app.config["CHAT_RESUME_LINK_HOURS"] * 3600
    try:
        value, issued = _resume_serializer().loads(token, max_age=max_age, return_timestamp=True)
    except (BadSignature, ValueError, TypeError):  # altered, expired (SignatureExpired), malformed
        return None
    if not isinstance(value, list) or len(value) != 4 or not all(isinstance(v, str) for v in value):
        return None
    link = ResumeLink(*value)
    if is_revoked(link.session_id, int(issued.timestamp() * 1000)):
        return None
    return link
