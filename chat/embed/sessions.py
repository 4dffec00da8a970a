"""Handing the widget a session: from an answer email's link, or for a logged-in customer."""

import time

from flask import current_app, g, jsonify

from .. import identity
from ..inputs import json_object
from ..services import conversations, shoppers, sites
from . import bp


@bp.post("/embed/<site>/resume")
def resume():
    """Exchange the token of an answer email's link for a session token (in the header)."""
    data = json_object()
    session_id = identity.read_resume_token(data.get("token") if isinstance(data.get("token"), str) else None)
    if session_id is None or not conversations.questions_of(session_id, g.chat_site.id, limit=1):
        return jsonify(error="This link has expired or is not valid any more."), 403
    identity.adopt(session_id)
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
    session_id = shoppers.identify(g.chat_site, customer_id, email, identity.from_request())
    identity.adopt(session_id)
    return jsonify(verified=True)
