"""The customer's live stream and typing signal for one product's conversation."""
import json

from flask import render_template
from flask_sse import Message

from ..extensions import db
from ..live import events
from ..live.stream import StreamHandler
from ..models import ProductMessage
from ..services import conversations


def render_message(message, viewer):
    return render_template("conversation/_message.html", message=message, viewer=viewer).strip()


# EventSource drops events with no data, so "stopped typing" carries an empty element.
NOT_TYPING = '<span class="typing-note" hidden></span>'


class CustomerStream(StreamHandler):
    """Events of one session's conversation about one product, rendered for the customer."""

    def __init__(self, product_id, session_id):
        self.product_id = product_id
        self.session_id = session_id
        self.channels = (events.customer_channel(session_id),)
        self._inquiry_id = None

    def inquiry_id(self):
        if self._inquiry_id is None:
            inquiry = conversations.find_inquiry(self.product_id, self.session_id)
            self._inquiry_id = inquiry.id if inquiry else None
        return self._inquiry_id

    def _message(self, message):
        return Message(render_message(message, "customer"), type="message", id=message.id)

    def replay(self, after):
        if after is None or self.inquiry_id() is None:
            return []
        page = conversations.list_messages(self.inquiry_id(), after=after, limit=500)
        return [(m.id, self._message(m)) for m in page.messages]

    def handle(self, event):
        data = event.get("data") or {}
        if data.get("product_id") != self.product_id:
            return []  # another product's conversation of the same session
        kind = event.get("type")
        if kind == "message":
            message = db.session.get(ProductMessage, data["message_id"])
            if message is None or (message.message_type == "system" and message.system_event != "status"):
                return []  # internal notes (priority, assignee) are not for customers
            self._inquiry_id = message.inquiry_id
            out = [self._message(message)]
            if message.sender_type == "admin":
                out.append(Message(NOT_TYPING, type="typing"))  # the answer replaces "typing…"
                out.append(Message(str(conversations.unread_count(message.inquiry_id, "customer")), type="unread"))
            return out
        if kind == "status" and data.get("reader") == "admin":
            return [Message(json.dumps({"ids": data["ids"], "state": data["state"]}), type="status")]
        if kind == "typing" and data.get("from") == "admin":
            return [Message(render_template("conversation/_typing.html", who="The shop"), type="typing")]
        return []

    def delivered(self, message_ids):
        if self.inquiry_id() is not None:
            conversations.mark_delivered(self.inquiry_id(), "customer", message_ids)
