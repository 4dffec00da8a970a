"""The admins' live stream: list rows, the open inquiry's messages, typing, presence."""
import sqlalchemy as sa
from flask import current_app, render_template, request
from flask_login import current_user
from flask_sse import Message

from ..extensions import db
from ..live import events
from ..live.names import Event
from ..inputs import last_event_id, optional_id
from ..live.stream import StreamHandler, event_stream
from ..models import ProductInquiry, ProductMessage, User
from ..services import conversations, inquiries
from . import bp


class AdminStream(StreamHandler):
    def __init__(self, admin_id, filters, inquiry_id=None):
        self.admin_id = admin_id
        self.filters = filters
        self.inquiry_id = inquiry_id
        self.channels = (events.ADMINS,) + ((events.inquiry_channel(inquiry_id),) if inquiry_id else ())

    def _admin(self):
        return db.session.get(User, self.admin_id)

    def _message(self, message):
        html = render_template("conversation/_message.html", message=message, viewer="admin").strip()
        return Message(html, type=Event.MESSAGE, id=message.id)

    def replay(self, after):
        if after is None or not self.inquiry_id:
            return []
        page = conversations.list_messages(self.inquiry_id, after=after, limit=500, viewer="admin")
        return [(m.id, self._message(m)) for m in page.messages]

    def handle(self, event):
        data = event.get("data") or {}
        kind = event.get("type")
        mine = self.inquiry_id and data.get("inquiry_id") == self.inquiry_id
        out = []
        if kind == Event.INQUIRY:
            out.extend(self._row(data["inquiry_id"]))
            out.append(Message(str(inquiries.waiting_count()), type=Event.WAITING))
        elif kind == Event.MESSAGE and mine:
            message = db.session.get(ProductMessage, data["message_id"])
            if message is not None:
                out.append(self._message(message))
                if message.sender_type == "customer":
                    out.append(Message('<span class="typing-note" hidden></span>', type=Event.TYPING))
        elif kind == Event.MARKS and mine and data.get("reader") == "customer":
            marks = db.session.scalars(sa.select(ProductMessage).where(ProductMessage.id.in_(data["ids"]))).all()
            out.append(Message(render_template("conversation/_marks.html", marks=marks).strip(), type=Event.MARKS))
        elif kind == Event.TYPING and mine and data.get("from") == "customer":
            out.append(Message(render_template("conversation/_typing.html", who="The customer"), type=Event.TYPING))
        elif kind == Event.PRESENCE and mine:
            viewers = [v for v in inquiries.viewers(self.inquiry_id) if v.id != self.admin_id]
            out.append(Message(render_template("admin/_viewers.html", viewers=viewers).strip() or " ",
                               type=Event.PRESENCE))
        return out

    def _row(self, inquiry_id):
        """The inquiry's list row if it (still) matches this admin's filters, else a removal."""
        admin = self._admin()
        query = inquiries.filtered_query(self.filters, admin).where(ProductInquiry.id == inquiry_id)
        inquiry = db.session.scalars(query).first()
        if inquiry is None:
            return [Message(str(inquiry_id), type=Event.REMOVE)]
        row = inquiries.rows_for([inquiry])[0]
        html = render_template("admin/_row.html", row=row).strip()
        return [Message(html, type=Event.ROW)]

    def delivered(self, message_ids):
        if self.inquiry_id:
            conversations.mark_delivered(self.inquiry_id, "admin", message_ids)

    def on_open(self):
        if self.inquiry_id:
            inquiries.see(self.inquiry_id, self.admin_id)

    def on_heartbeat(self):
        self.on_open()

    def still_allowed(self):
        # Each step runs in a request context rebuilt from the stream's request,
        # so this asks the user loader again: a logout elsewhere, "log out
        # everywhere" or a deactivation closes an open stream within a heartbeat.
        return current_user.is_authenticated and current_user.id == self.admin_id

    def on_close(self):
        if self.inquiry_id:
            inquiries.leave(self.inquiry_id, self.admin_id)


@bp.get("/stream")
def stream():
    if not current_app.config["SSE_ENABLED"]:
        return "", 204
    filters = inquiries.Filters.parse(request.args)
    inquiry_id = optional_id("inquiry")
    if inquiry_id:
        inquiries.get(inquiry_id)
    return event_stream(AdminStream(current_user.id, filters, inquiry_id), last_event_id())


