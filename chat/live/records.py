"""Live events as typed records: one frozen dataclass per broker event.

Services build a record with everything a stream needs to render it (plain
JSON types, never an ORM object) and publish it after commit; the broker
carries ``record.wire()`` (``{"type", "id", "data"}``, JSON over Redis); a
stream gets it back with ``decode(event)``, which checks every field, so a
renderer never meets a missing key or a wrong type. The schema tests
(``tests/test_event_schemas.py``) pin which action emits which records.
"""

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass

from .names import Event


class BadEvent(ValueError):
    """A broker event that is no record of ours (an unknown type, a missing or mistyped field)."""


@dataclass(frozen=True)
class Record:
    type: typing.ClassVar[Event]

    def event_id(self):
        """The SSE id the event carries (a stored message's id), or None."""
        return None

    def data(self):
        return dataclasses.asdict(self)

    def wire(self):
        """What the broker carries (JSON-ready)."""
        return {"type": self.type.value, "id": self.event_id(), "data": self.data()}


@dataclass(frozen=True)
class MessageStored(Record):
    """A message was stored. A stream that shows the conversation and showed exactly the
    message this one follows renders it from the record; any other (a gap, an event that
    overtook another, a message with files or a workflow line) reads the conversation
    after its cursor from the database. Other streams update a count."""

    type = Event.MESSAGE
    inquiry_id: int
    product_id: int
    message_id: int
    sender_type: str  # "customer" or "admin"
    # The message before it, as admins see the conversation (any row) and as the customer
    # does (public rows); None: unknown, read.
    after_id: int | None = None
    after_public_id: int | None = None
    # What the message shows, for a text message or a private note without files (None: read).
    message_type: str | None = None  # "text" or "note"
    visibility: str | None = None  # "public" or "internal"
    text: str | None = None
    created_at: str | None = None  # ISO 8601, UTC, no zone suffix (as stored)
    client_msg_id: str | None = None
    sender_name: str | None = None  # the admin's name, as admins see it
    public_sender_name: str | None = None  # who answered, as the customer sees it

    def event_id(self):
        return self.message_id

    def follows(self, reader):
        """The id of the message this one follows for ``reader`` ("admin" or "customer"),
        if a stream of theirs may render it without reading; else None."""
        if self.text is None:
            return None
        return self.after_id if reader == "admin" else self.after_public_id


@dataclass(frozen=True)
class InquiryChanged(Record):
    """An admin list row may have changed (a message, a read mark, a rating): the row as it
    is now, with everything ``admin/_row.html`` shows and the list filters test
    (``services/list_rows.py`` builds it, ``Filters.matches`` tests it)."""

    type = Event.INQUIRY
    inquiry_id: int
    product_id: int
    why: str  # "message", "read" or "rating"
    status: str
    priority: str
    queue_key: str
    waiting_since: str | None  # ISO 8601, UTC, no zone suffix (as stored)
    assigned_admin_id: int | None
    assignee_name: str | None
    rating: str | None
    rating_comment: str | None
    product_name: str
    product_image_url: str | None
    site_id: int
    site_name: str
    customer_email: str | None
    session_prefix: str  # the visitor's name when no email is known
    message_count: int
    unread_count: int  # the customer's messages not read yet
    # The newest text message (None: none yet): who wrote it, its text (the start the row
    # shows) and its files (name, is an image).
    last_sender: str | None
    last_text: str | None
    last_files: tuple[tuple[str, bool], ...]
    # The message that moved it (why == "message"): a row naming a customer's message delivers it.
    message_id: int | None = None
    sender_type: str | None = None
    # When the service built it, holding the inquiry's row lock (ns since the epoch): one
    # inquiry's changes commit in that order, but their events may arrive in another
    # (two workers publish), and a list keeps the newest row (render/admin.py).
    built_ns: int = 0


@dataclass(frozen=True)
class Waiting(Record):
    """How many inquiries wait for an answer, per site (the admin badge: each page sums the
    sites it sees). ``message_id``: the message that moved the count, if any."""

    type = Event.WAITING
    counts: dict[str, int]  # site id (as JSON keys are strings) -> waiting inquiries, capped
    message_id: int | None = None


@dataclass(frozen=True)
class CustomerWrote(Record):
    """A customer's text message, announced once: the admins' notification."""

    type = Event.CUSTOMER_WROTE
    inquiry_id: int
    message_id: int
    kind: str  # "new" (the inquiry's first) or "followup"
    product: str  # the product's name
    preview: str  # one line of the message


@dataclass(frozen=True)
class Marks(Record):
    """Delivered or read marks moved on the ``reader``'s side; ``marks`` are each message's
    (id, state, client message id or "") as the sender shows them."""

    type = Event.MARKS
    inquiry_id: int
    product_id: int
    reader: str  # who received or read: "customer" or "admin"
    state: str  # "delivered" or "read"
    marks: tuple[tuple[int, str, str], ...]

    @property
    def ids(self):
        return [mark[0] for mark in self.marks]


@dataclass(frozen=True)
class Typing(Record):
    """Someone is typing (no row behind it)."""

    type = Event.TYPING
    inquiry_id: int
    product_id: int
    sender: str  # "customer" or "admin"


@dataclass(frozen=True)
class Presence(Record):
    """Who has the inquiry open now: (admin id, name), by name."""

    type = Event.PRESENCE
    inquiry_id: int
    viewers: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Controls(Record):
    """The inquiry's status, priority, assignee and rating, and who it can be assigned to."""

    type = Event.CONTROLS
    inquiry_id: int
    status: str
    priority: str
    assignee_id: int | None
    rating: str | None
    rating_comment: str | None
    rated_at: str | None  # ISO 8601, UTC, no zone suffix (as stored)
    admins: tuple[tuple[int, str], ...]  # (id, name), by name
    version: int  # the inquiry's controls_version: a page keeps the newest it was given


@dataclass(frozen=True)
class Unread(Record):
    """The shopper read answers: their launcher's unread badge moves."""

    type = Event.UNREAD
    inquiry_id: int
    product_id: int


RECORDS = {cls.type: cls for cls in Record.__subclasses__()}
# Names that exist only on the SSE wire (a stream makes them), or only between broker and stream.
STREAM_ONLY = {
    Event.ROW: "an admin list row, rendered from INQUIRY",
    Event.REMOVE: "a row leaving a list, rendered from INQUIRY",
    Event.READY: "the stream's first event after its replay",
    Event.RESYNC: "the broker's own signal (broker.RESYNC), no record",
}


def decode(event):
    """The record of a broker event (``{"type", "id", "data"}``); raises BadEvent.

    The broker hands the same dict to every stream of the worker: the record is
    decoded once and kept in it.
    """
    record = event.get("_record")
    if record is None:
        cls = RECORDS.get(event.get("type"))
        data = event.get("data")
        if cls is None or not isinstance(data, dict):
            raise BadEvent(f"not a live record: {event.get('type')!r}")
        record = event["_record"] = from_data(cls, data)
    return record


@functools.cache
def _schema(cls):
    """A record class's fields as (name, required, checker), and their names: the hints are
    resolved and each field's check is built once per class, not per decode (every event of
    a worker is decoded)."""
    hints = typing.get_type_hints(cls)
    fields = tuple(
        (f.name, f.default is dataclasses.MISSING, _checker(hints[f.name], f"{cls.type}.{f.name}"))
        for f in dataclasses.fields(cls)
    )
    return fields, frozenset(name for name, _, _ in fields)


def from_data(cls, data):
    fields, names = _schema(cls)
    if not names.issuperset(data):
        raise BadEvent(f"{cls.type}: unknown fields {sorted(set(data) - names)}")
    values = {}
    for name, required, check in fields:
        if name not in data:
            if required:
                raise BadEvent(f"{cls.type}: missing {name}")
            continue
        values[name] = check(data[name])
    return cls(**values)


def _checked(value, hint, where):
    """``value`` as ``hint`` (JSON lists become tuples), or BadEvent."""
    return _checker(hint, where)(value)


@functools.cache
def _checker(hint, where):
    """A function that returns its value as ``hint`` (JSON lists become tuples), or raises BadEvent."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        check = _checker(inner, where)
        return lambda value: None if value is None else check(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            each = _checker(args[0], where)

            def check_all(value):
                if not isinstance(value, list | tuple):
                    raise BadEvent(f"{where}: not a list")
                return tuple(each(v) for v in value)

            return check_all
        items = [_checker(a, where) for a in args]

        def check_items(value):
            if not isinstance(value, list | tuple):
                raise BadEvent(f"{where}: not a list")
            if len(value) != len(items):
                raise BadEvent(f"{where}: {len(value)} items, not {len(items)}")
            return tuple(check(v) for v, check in zip(value, items))

        return check_items
    if origin is dict:
        key, item = _checker(args[0], where), _checker(args[1], where)

        def check_dict(value):
            if not isinstance(value, dict):
                raise BadEvent(f"{where}: not an object")
            return {key(k): item(v) for k, v in value.items()}

        return check_dict

    def check_plain(value):
        # bool is an int in Python: a JSON true is not an id.
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise BadEvent(f"{where}: {value!r} is not {hint.__name__}")
        return value

    return check_plain
