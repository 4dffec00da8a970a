"""Renderers: live records into SSE Messages, one module per audience.

A renderer's ``plan(record, viewer)`` lists what a viewer gets for a record as
``(key, make)`` pairs: ``make(event)`` returns Messages, and ``key`` names the
variant (who else of this worker gets the same bytes). Streams use the same
plan for both paths, so the cached path and the rendering path cannot
disagree on a key: ``cached`` looks every key up without any context, and
``rendered`` makes what is missing (``once``), in a request context.
"""

from datetime import datetime
from types import SimpleNamespace

from ..stream import MISSING, made, once

# EventSource drops events with no data, so "stopped typing" carries an empty element.
NOT_TYPING = '<span class="typing-note" hidden></span>'


def cached(event, plan):
    """The Messages of ``plan`` if another stream of this worker made them all, else None."""
    out = []
    for key, _make in plan:
        got = made(event, key)
        if got is MISSING:
            return None
        out.extend(got)
    return out


def rendered(event, plan):
    """The Messages of ``plan``, each variant made once per event in this worker."""
    out = []
    for key, make in plan:
        out.extend(once(event, key, lambda make=make: make(event)))
    return out


def marks(record):
    """The marks of a MARKS record as ``conversation/_marks.html`` reads them."""
    return [SimpleNamespace(id=i, state=state, client_msg_id=client_id or None) for i, state, client_id in record.marks]


def recorded_message(record):
    """A MESSAGE record's message as ``conversation/_message.html`` reads a stored one (a
    text message or note without files, just stored: not delivered or read yet)."""
    return SimpleNamespace(
        id=record.message_id,
        inquiry_id=record.inquiry_id,
        sender_type=record.sender_type,
        message_type=record.message_type,
        visibility=record.visibility,
        system_event=None,
        message_text=record.text,
        created_at=datetime.fromisoformat(record.created_at),
        client_msg_id=record.client_msg_id,
        attachments=[],
        sender=SimpleNamespace(name=record.sender_name) if record.sender_name else None,
        public_sender_name=record.public_sender_name,
        state="sent",
    )
