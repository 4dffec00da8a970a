"""What a shopper's stream shows for a record (``embed/live.py`` filters, this renders).

One stream per shopper (their own channel), so nothing is shared between
streams: ``messages`` renders straight away.
"""

from flask import render_template
from flask_sse import Message

from ...services import conversations
from .. import records
from ..names import Event
from . import NOT_TYPING, marks


def message(message):
    html = render_template("conversation/_message.html", message=message, viewer="customer").strip()
    return Message(html, type=Event.MESSAGE, id=message.id)


def unread(viewer):
    """The launcher's badge (SQL: unread answers across the shopper's conversations on the site)."""
    return Message(str(conversations.unread_across(viewer.session_id, viewer.site_id)), type=Event.UNREAD)


def arrived(messages, viewer):
    out = [message(m) for m in messages]
    if any(m.sender_type == "admin" for m in messages):
        out.append(Message(NOT_TYPING, type=Event.TYPING))  # the answer replaces "typing…"
        out.append(unread(viewer))
    return out


def messages(record, viewer, inquiry_id):
    """The Messages for ``record`` (not a message of the shown conversation: the stream reads
    those itself); ``inquiry_id``: the conversation this stream shows, or None."""
    here = inquiry_id is not None and getattr(record, "inquiry_id", None) == inquiry_id
    if isinstance(record, records.MessageStored):
        # An answer in another of the shopper's conversations (the channel carries
        # only what customers may see): the badge moves.
        return [unread(viewer)] if record.sender_type == "admin" else []
    if isinstance(record, records.Unread):
        return [unread(viewer)]
    if isinstance(record, records.Marks) and here and record.reader == "admin":
        html = render_template("conversation/_marks.html", marks=marks(record)).strip()
        return [Message(html, type=Event.MARKS)] if html else []
    if isinstance(record, records.Typing) and here and record.sender == "admin":
        return [Message(render_template("conversation/_typing.html", who="The shop"), type=Event.TYPING)]
    return []
