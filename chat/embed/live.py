"""The shopper's live stream, opened with a short-lived single-use ticket.

EventSource cannot send our header, and the session token must never travel
in a URL (servers and proxies log URLs). So the iframe first asks for a
ticket with its header; the ticket names the session, lives a minute, and
opens exactly one stream (its nonce is recorded when used). A reconnect asks
for a new one.
"""

import secrets

from flask import current_app, g, has_request_context, jsonify, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from .. import i18n, identity
from ..extensions import db
from ..inputs import last_event_id
from ..live import grip, records
from ..live.names import customer_channel
from ..live.render import shopper as rendering
from ..live.stream import StreamHandler, event_stream
from ..models import Site, StreamTicket
from ..services import conversations, products
from . import bp, held

TICKET_SECONDS = 60


def _tickets():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="stream-ticket")


@bp.post("/embed/<site>/stream-ticket")
def stream_ticket():
    """A ticket that opens one stream of the caller's session, within a minute."""
    session_id = identity.from_request()
    if session_id is None:
        return jsonify(error="No chat session yet: send a message first."), 401
    ticket = _tickets().dumps([session_id, g.chat_site.public_id, secrets.token_hex(16)])
    return jsonify(ticket=ticket, expires_in=TICKET_SECONDS)


def _redeem(ticket):
    """The session a ticket names, once; None if it is bad, expired, for another site or used."""
    try:
        (session_id, site_id, nonce), issued = _tickets().loads(
            ticket or "", max_age=TICKET_SECONDS, return_timestamp=True
        )
    except (BadSignature, ValueError, TypeError):
        return None
    if site_id != g.chat_site.public_id or identity.is_revoked(session_id, int(issued.timestamp() * 1000)):
        return None
    db.session.add(StreamTicket(nonce=nonce))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None  # used before: a replay
    return session_id


class ShopperStream(StreamHandler):
    """One shopper's events on a site: this product's conversation rendered for them,
    and the unread count across all their conversations (the launcher's badge). Filters
    records; ``live/render/shopper.py`` renders them."""

    def __init__(self, session_id, site_id, external_id):
        self.session_id = session_id
        self.site_id = site_id
        self.external_id = external_id
        self.channels = (customer_channel(session_id),)
        self.locale = i18n.current() if has_request_context() else i18n.DEFAULT
        self._inquiry_id = None

    def inquiry_id(self):
        """The conversation this stream shows (SQL until the shopper has one, then kept)."""
        if self._inquiry_id is None:
            site = db.session.get(Site, self.site_id)
            product = products.find(site, self.external_id)
            inquiry = conversations.find_inquiry(product.id, self.session_id) if product else None
            self._inquiry_id = inquiry.id if inquiry else None
        return self._inquiry_id

    def shows(self, event):
        # The shopper's other conversations share the channel: only the badge for them.
        return records.decode(event).inquiry_id == self.inquiry_id()

    def messages_after(self, after):
        if self.inquiry_id() is None:
            return []
        return conversations.list_messages(self.inquiry_id(), after=after, limit=500).messages

    def arrived(self, messages, event):
        return rendering.arrived(messages, self)

    def replay(self, after):
        return [] if after is None else [rendering.message(m) for m in self.messages_after(after)]

    def handle(self, event):
        record = records.decode(event)
        # Marks and typing name their conversation; the stream's is looked up only for them.
        about_one = isinstance(record, records.Marks | records.Typing)
        return rendering.messages(record, self, self.inquiry_id() if about_one else None)

    reader = "customer"

    def delivered(self, message_ids):
        # Known by now: the messages written were read through inquiry_id().
        return {self._inquiry_id: message_ids} if self._inquiry_id is not None else {}


@bp.get("/embed/<site>/stream")
def stream():
    """Server-sent events for the shopper named by a single-use ticket."""
    if not current_app.config["SSE_ENABLED"]:
        return "", 204  # EventSource stops retrying on 204; the widget polls instead
    proxied = grip.through_pushpin()
    if proxied and "recover" in request.args:
        return held.recover(ShopperStream)  # Pushpin fills a gap in a stream it holds
    after = last_event_id()  # a malformed one is a 400 before the ticket is spent
    session_id = _redeem(request.args.get("ticket"))
    if session_id is None:
        return jsonify(error="This stream ticket is not valid (expired or used): ask for a new one."), 403
    external_id = request.args.get("product", "")
    if proxied:
        return held.hold(ShopperStream(session_id, g.chat_site.id, external_id), after)
    return event_stream(ShopperStream(session_id, g.chat_site.id, external_id), after)
