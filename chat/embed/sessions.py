"""Handing the widget a session: from an answer email's link, or for a logged-in customer."""

import time

from flask import current_app, g, jsonify

from .. import identity
from ..inputs import json_object
from ..services import resume_links, shoppers, sites
from ..services.errors import Conflict, Forbidden
from . import bp


@bp.post("/embed/<site>/resume")
def resume():
    """Exchange the token of an answer email's link for a session token (in the header).

    ``{"token", "replace"?}``: 200 ``{"resumed": true}``; 403 ``{"error"}`` for a link
    that is not valid (any more) or used; 409 ``{"error", "choice": true}`` when this
    browser has a chat of its own here: the chat asks the shopper, and sends
    ``replace: true`` only if they choose the emailed conversation.
    """
    data = json_object()
    current = identity.from_request()
    try:
        session_id = resume_links.redeem(g.chat_site, data.get("token"), current, replace=data.get("replace"))
    except Conflict as choice:
        return jsonify(error=choice.message, choice=True), 409
    except Forbidden as refused:
        return jsonify(error=refused.message), 403
    if session_id != current:
        identity.adopt(session_id, resumed=True)
    return jsonify(resumed=True)


@bp.post("/embed/<site>/identify")
def identify():
    """A shop vouches for its logged-in customer: one history across their devices.

    The shop signs ``["<customer id>","<email>",<unix seconds>]`` (compact JSON,
    ``sites.identity_message``) with the site's identity secret (HMAC-SHA256). A
    bad, stale or future-dated signature is refused (403) and the shopper simply
    stays anonymous.
    """
    data = json_object()
    customer_id, email = data.get("customer_id"), data.get("email")
    valid = sites.verify_identity(
        g.chat_site,
        customer_id,
        email,
        data.get("timestamp"),
        data.get("signature"),
        current_app.config["CHAT_IDENTITY_MAX_AGE_SECONDS"],
        int(time.time()),
    )
    if not valid:
        return jsonify(error="The customer's identity is not signed correctly: chatting anonymously."), 403
    # A session from a resume link never becomes part of a verified customer's history.
    anonymous = None if identity.resumed() else identity.from_request()
    session_id = shoppers.identify(g.chat_site, customer_id, email, anonymous)
    identity.adopt(session_id)
    return jsonify(verified=True)
