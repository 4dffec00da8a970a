"""The shopper's stream held by Pushpin (``LIVE_PROXY=pushpin``, see chat/live/grip.py).

A stream request through Pushpin, with a valid single-use ticket, is answered with the
replay (after ``Last-Event-ID``/``after=``), ``ready`` and hold instructions for three
channels derived here from the ticket's session, the site and the product (never from
the request): the conversation's messages (reliable, chained by id), its other events
(typing, marks) and the session's badge across the site. Pages render in the
shopper's language, so each channel name ends with it and an event is rendered once
per language the site offers, whatever the number of streams.

Pushpin asks the stream URL again with ``recover=1`` (its ``Grip-Link``, never shown to
clients) when message ids do not chain, with ``Grip-Last`` naming the messages channel
and the last id the connection got: the answer is the messages after it, and the same
instructions. That channel's name is a signed token of the session, site, product and
language (the recovery reads them from it), so every stream of a site has the same next
link: Pushpin sends at most 10 batches of next-link requests a second, a batch being up to
100 connections with the same link, so a shared link lets it catch up 1,000 streams a
second instead of 10 (Pushpin 1.36 asks once for every new stream, a second after the hold).
"""

from flask import current_app, g, request
from flask_sse import Message
from itsdangerous import BadSignature, URLSafeSerializer

from .. import i18n
from ..extensions import db
from ..live import grip, records
from ..live.delivered import delivered_marks
from ..live.names import Event
from ..live.render import recorded_message
from ..services import conversations


def _channel_tokens():
    # Deterministic (no timestamp): the publisher derives the same name for the same stream.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="pushpin-channel")


def channels(session_id, site_id, external_id, locale):
    """(messages, events, badge) channel names of one shopper's stream of one product."""
    key = grip.channel_key(session_id, site_id, external_id)
    badge = grip.channel_key(session_id, site_id)
    messages = "m." + _channel_tokens().dumps([session_id, site_id, external_id, locale])
    return messages, f"e.{key}.{locale}", f"u.{badge}.{locale}"


def _wire(messages):
    return "".join(str(message) for message in messages)


def _newest_visible(inquiry_id, before=None):
    """The newest id the shopper sees in the inquiry (below ``before``), 0 for none."""
    if inquiry_id is None:
        return 0
    if before is None:
        page = conversations.list_messages(inquiry_id, limit=1)
    else:
        page = conversations.list_messages(inquiry_id, before=before, limit=1)
    return page.messages[-1].id if page.messages else 0


def _answer(handler, after, locale, recovering):
    """The replay after ``after`` (or nothing, for a new stream: live from now) and the hold."""
    session_id, site_id, external_id = handler.session_id, handler.site_id, handler.external_id
    replayed = handler.replay(after) if after is not None else []
    ids = [int(m.id) for m in replayed]
    if ids:
        position = ids[-1]
    elif after is not None:
        position = after
    else:
        position = _newest_visible(handler.inquiry_id())
    parts = [] if recovering else [f"retry: {current_app.config['SSE_RETRY_MS']}\n\n"]
    parts.append(_wire(replayed))
    if not recovering:
        parts.append(str(Message(str(ids[-1] if ids else after or 0), type=Event.READY)))
    if ids:
        # Replayed through Pushpin to the shopper's device: delivered (stored in batches).
        delivered_marks().add_all(handler.delivered(ids), handler.reader)
    reliable, *plain = channels(session_id, site_id, external_id, locale)
    return grip.hold("".join(parts), reliable, plain, position, f"{request.path}?recover=1")


def hold(handler, after):
    """A new stream's answer through Pushpin (the ticket was redeemed)."""
    return _answer(handler, after, i18n.current(), recovering=False)


def recover(stream_class):
    """Pushpin's next-link request: the messages after the last one its connection got."""
    found = [(name, last) for name, last in grip.last_ids().items() if name.startswith("m.")]
    try:
        session_id, site_id, external_id, locale = _channel_tokens().loads(found[0][0][2:])
    except (IndexError, BadSignature, ValueError, TypeError):
        return "", 403  # no Grip-Hold: Pushpin ends the client's stream
    if site_id != g.chat_site.id:
        return "", 403
    handler = stream_class(session_id, site_id, external_id)
    last = found[0][1]
    after = int(last) if last.isdigit() else _newest_visible(handler.inquiry_id())
    with i18n.force_locale(locale):
        return _answer(handler, after, locale, recovering=True)


def _shopper_items(pending):
    """Pushpin items for the commit's events on shoppers' channels."""
    from ..models import Product, ProductInquiry, ProductMessage, Site
    from .live import ShopperStream

    items = []
    for channel, event in pending:
        if not channel.startswith("customer:"):
            continue
        session_id = channel.split(":", 1)[1]
        data = event.get("data") or {}
        inquiry = db.session.get(ProductInquiry, data["inquiry_id"]) if data.get("inquiry_id") else None
        product = db.session.get(Product, inquiry.product_id) if inquiry else None
        if inquiry is None and event.get("type") != Event.UNREAD:
            continue
        site_id = product.site_id if product else data.get("site_id")
        if site_id is None:
            continue
        site = db.session.get(Site, site_id)
        external_id = product.external_id if product else ""
        handler = ShopperStream(session_id, site_id, external_id)
        handler._inquiry_id = inquiry.id if inquiry else None
        message = None
        if event.get("type") == Event.MESSAGE:
            record = records.decode(event)
            if record.follows(handler.reader) is not None:
                # Rendered from the record, chained to the one before it: no read.
                message, prev_id = recorded_message(record), record.follows(handler.reader)
            else:
                message = db.session.get(ProductMessage, data["message_id"])
                if message is None or message.visibility != "public":
                    continue
                prev_id = _newest_visible(inquiry.id, before=message.id)
        for locale in i18n.site_languages(site)["enabled"]:
            messages_ch, events_ch, badge_ch = channels(session_id, site_id, external_id, locale)
            with i18n.force_locale(locale):
                out = handler.arrived([message], event) if message is not None else handler.handle(event)
            for sse in out:
                if sse.type == Event.MESSAGE:
                    items.append(grip.item(messages_ch, str(sse), sse.id, prev_id))
                elif sse.type == Event.UNREAD:
                    items.append(grip.item(badge_ch, str(sse)))
                else:
                    items.append(grip.item(events_ch, str(sse)))
    return items


grip.on_publish(_shopper_items)
