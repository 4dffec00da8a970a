"""Customer rate limits, shared by the HTML, embed and JSON sides (Flask-Limiter).

- sending: one budget per chat session (or per address for a caller with none);
- new chat sessions per IP address, counted only when a request really mints one;
- new conversations per IP address, counted only when a message really opens one;
- the typing signal per session.

A limited visitor gets a 429 with ``Retry-After`` and a friendly sentence;
callers with a session or conversation of their own are never held back by
the per-IP limits of strangers behind the same address.
"""

import functools

from flask import current_app, g, request
from flask_babel import lazy_gettext
from flask_limiter.util import get_remote_address

from . import identity
from .extensions import limiter

SLOW_DOWN = lazy_gettext("You're sending messages faster than we can take them. Please wait a moment and try again.")
TOO_MANY_NEW = lazy_gettext(
    "Too many new conversations have been started from your network just now. Please wait a few minutes and try again."
)


def once_per_request(on_outage):
    """For the callbacks Flask-Limiter runs (keys, exemptions) that read the database.

    Flask-Limiter calls each several times per request, and takes an error from
    one for a failing Redis: it falls back to in-memory limits and runs them all
    again (one database attempt, and with a hung database one timeout, per call).
    So the answer is computed once per request and kept in ``g``; an outage is
    rolled back and answered with ``on_outage`` (never raised): the view meets
    the same outage (``identity.from_request`` keeps it too) and answers the 503.
    """

    def decorator(callback):
        name = f"{callback.__module__}.{callback.__qualname__}"

        @functools.wraps(callback)
        def wrapper():
            answers = g.setdefault("limit_callback_answers", {})
            if name not in answers:
                try:
                    answers[name] = callback()
                except Exception as error:
                    from .errors import is_outage
                    from .extensions import db

                    if not is_outage(error):
                        raise
                    try:
                        db.session.rollback()
                    except Exception:  # noqa: BLE001 - the pool discards the dead connection
                        pass
                    answers[name] = on_outage() if callable(on_outage) else on_outage
            return answers[name]

        return wrapper

    return decorator


def _config(name):
    return lambda: current_app.config[name]


# During an outage: exempt, and counted by address; the view answers the 503.
@once_per_request(on_outage=True)
def _has_session():
    return identity.from_request() is not None


@once_per_request(on_outage=True)
def _has_conversation_here():
    """The caller already talks about this product: not a new conversation."""
    product_id = (request.view_args or {}).get("product_id")
    if product_id is None and "chat_product" in g:
        product_id = g.chat_product.id if g.chat_product is not None else None
    return product_id is not None and identity.own_inquiry(product_id) is not None


_rate_key = once_per_request(on_outage=lambda: request.remote_addr)(identity.rate_key)


_per_session = limiter.shared_limit(
    _config("CHAT_SEND_RATE_LIMIT"),
    scope="chat-send",
    key_func=_rate_key,
    error_message=SLOW_DOWN,
)
_new_sessions = limiter.shared_limit(
    _config("CHAT_NEW_SESSIONS_PER_IP"),
    scope="chat-new-session",
    key_func=get_remote_address,
    exempt_when=_has_session,
    error_message=TOO_MANY_NEW,
    deduct_when=lambda response: identity.is_new() and response.status_code < 400,
)
_new_inquiries = limiter.shared_limit(
    _config("CHAT_NEW_INQUIRIES_PER_IP"),
    scope="chat-new-inquiry",
    key_func=get_remote_address,
    exempt_when=_has_conversation_here,
    error_message=TOO_MANY_NEW,
    deduct_when=lambda response: bool(g.get("chat_inquiry_created")) and response.status_code < 400,
)


def send_limit(view):
    """Every limit a send is subject to, whichever endpoint it comes through."""
    return _per_session(_new_sessions(_new_inquiries(view)))


typing_limit = limiter.limit(_config("CHAT_TYPING_RATE_LIMIT"), key_func=_rate_key, error_message=SLOW_DOWN)
