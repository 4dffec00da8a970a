"""Who the customer is: a random session id, signed, in a cookie or a header.

The id is 192 random bits made on the server. It travels signed (itsdangerous)
so a client cannot invent or alter one, in an HttpOnly cookie for our own
pages, or in the ``X-Chat-Session`` header for integrators whose pages cannot
hold our cookie. Nothing else (no query parameter, no form field) can name a
session, so a request can only ever reach its own conversations.
"""
import secrets

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE_NAME = "chat_session"
HEADER_NAME = "X-Chat-Session"


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="chat-session")


def sign(session_id):
    return _serializer().dumps(session_id)


def unsign(token):
    if not token or len(token) > 200:
        return None
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) and len(value) >= 22 else None


def from_request():
    """The caller's session id, or None if it has none (yet)."""
    if "chat_session_id" not in g:
        token = request.headers.get(HEADER_NAME) or request.cookies.get(COOKIE_NAME)
        g.chat_session_id = unsign(token)
        g.chat_session_via_header = bool(request.headers.get(HEADER_NAME))
    return g.chat_session_id


def ensure():
    """The caller's session id, making a new one (sent back after the request)."""
    session_id = from_request()
    if session_id is None:
        session_id = secrets.token_urlsafe(24)
        g.chat_session_id = session_id
        g.chat_session_new = True
    return session_id


def adopt(session_id):
    """Make this browser hold ``session_id`` (from a signed email link)."""
    g.chat_session_id = session_id
    g.chat_session_new = True


def via_header():
    from_request()
    return g.get("chat_session_via_header", False)


def attach(response):
    """after_request: hand a new session to the client (cookie and header)."""
    if g.get("chat_session_new"):
        token = sign(g.chat_session_id)
        response.headers[HEADER_NAME] = token
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
    from ..services import conversations

    session_id = from_request()
    return conversations.find_inquiry(product_id, session_id) if session_id else None


def rate_key():
    """Whom a rate limit counts: the chat session, or the address of a caller with none."""
    return from_request() or request.remote_addr
