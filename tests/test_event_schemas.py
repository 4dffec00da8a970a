"""Every action emits exactly these live events (as Zulip's ``verify_action``): on these
channels, of these types, with these fields and field types, decodable as records.

One app on SQLite for the module; each test captures what the broker was handed.
"""

import contextlib
import dataclasses
import time
import typing

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.live import current_broker, records
from chat.live.names import Event
from chat.models import ProductInquiry, User

from .chat_helpers import dispose_app, module_sqlite_app

# The schemas, written out (as zerver/lib/event_schema.py): a record that changes must change here too.
SCHEMAS = {
    Event.MESSAGE: {
        "inquiry_id": int,
        "product_id": int,
        "message_id": int,
        "sender_type": str,
        "after_id": int | None,
        "after_public_id": int | None,
        "message_type": str | None,
        "visibility": str | None,
        "text": str | None,
        "created_at": str | None,
        "client_msg_id": str | None,
        "sender_name": str | None,
        "public_sender_name": str | None,
    },
    Event.INQUIRY: {
        "inquiry_id": int,
        "product_id": int,
        "why": str,
        "status": str,
        "priority": str,
        "queue_key": str,
        "waiting_since": str | None,
        "assigned_admin_id": int | None,
        "assignee_name": str | None,
        "rating": str | None,
        "rating_comment": str | None,
        "product_name": str,
        "product_image_url": str | None,
        "site_id": int,
        "site_name": str,
        "customer_email": str | None,
        "session_prefix": str,
        "message_count": int,
        "unread_count": int,
        "last_sender": str | None,
        "last_text": str | None,
        "last_files": tuple[tuple[str, bool], ...],
        "message_id": int | None,
        "sender_type": str | None,
        "built_ns": int,
    },
    Event.WAITING: {"counts": dict[str, int], "message_id": int | None},
    Event.CUSTOMER_WROTE: {"inquiry_id": int, "message_id": int, "kind": str, "product": str, "preview": str},
    Event.MARKS: {
        "inquiry_id": int,
        "product_id": int,
        "reader": str,
        "state": str,
        "marks": tuple[tuple[int, str, str], ...],
    },
    Event.TYPING: {"inquiry_id": int, "product_id": int, "sender": str},
    Event.PRESENCE: {"inquiry_id": int, "viewers": tuple[tuple[int, str], ...]},
    Event.CONTROLS: {
        "inquiry_id": int,
        "status": str,
        "priority": str,
        "assignee_id": int | None,
        "rating": str | None,
        "rating_comment": str | None,
        "rated_at": str | None,
        "admins": tuple[tuple[int, str], ...],
        "version": int,
    },
    Event.UNREAD: {"inquiry_id": int, "product_id": int},
}
# The types the tests below saw emitted (checked last: every record has an action test).
SEEN = set()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = module_sqlite_app(tmp_path_factory.mktemp("schemas"))
    yield app
    dispose_app(app)


@pytest.fixture
def ctx(app):
    with app.app_context(), app.test_request_context():
        yield
        db.session.rollback()


@pytest.fixture
def shop(ctx):
    """(product, site id, admin) of the demo shop."""
    from chat.models import Product

    product = db.session.scalar(sa.select(Product).order_by(Product.id))
    return product, product.site_id, db.session.scalar(sa.select(User).order_by(User.id))


@contextlib.contextmanager
def captured(app):
    """What the broker is handed meanwhile: [(channel, event type, data)]."""
    broker = current_broker(app)
    seen = []

    def publish_many(pending):
        seen.extend((channel, event["type"], event["data"]) for channel, event in pending)

    broker.publish_many = publish_many
    try:
        yield seen
    finally:
        del broker.publish_many


def verify_action(app, action, expected):
    """Run ``action``; assert the broker got exactly ``expected`` ([(channel, Event)], in order;
    or a function of what ``action`` returned), each event with its schema's fields and types;
    return the decoded records."""
    with captured(app) as seen:
        result = action()
    if callable(expected):
        expected = expected(result)
    assert [(channel, kind) for channel, kind, _ in seen] == [(c, e.value) for c, e in expected]
    out = []
    for _channel, kind, data in seen:
        schema = SCHEMAS[Event(kind)]
        assert set(data) == set(schema), kind
        record = records.decode({"type": kind, "data": data})
        for name, hint in schema.items():
            records._checked(getattr(record, name), hint, f"{kind}.{name}")
        SEEN.add(Event(kind))
        out.append(record)
    return out


def to_admins(channel, site_id, event):
    """An admin-wide event goes to the every-site channel and to the site's own."""
    return [(channel, event), (f"{channel}:site:{site_id}", event)]


def announced(inquiry, site_id, public=True, wrote=True):
    """What a stored message emits (``conversations.announce_message``)."""
    return (
        ([(f"customer:{inquiry.session_id}", Event.MESSAGE)] if public else [])
        + [(f"inquiry:{inquiry.id}", Event.MESSAGE)]
        + to_admins("admins:list", site_id, Event.INQUIRY)
        + to_admins("admins:notices", site_id, Event.WAITING)
        + (to_admins("admins:notices", site_id, Event.CUSTOMER_WROTE) if wrote else [])
    )


def new_inquiry(product, session="s" * 30, text="Is it waterproof?"):
    from chat.services import conversations

    result = conversations.send_customer_message(product.id, session, text)
    return db.session.get(ProductInquiry, result.message.inquiry_id)


def test_a_shopper_sends_a_first_message_and_a_follow_up(app, shop):
    from chat.services import conversations

    product, site_id, _ = shop
    session = "first" * 6
    with captured(app):
        inquiry = new_inquiry(product, session)
    sent = {}

    def follow_up():
        sent["before_ns"] = time.time_ns()
        sent["message"] = conversations.send_customer_message(product.id, session, "And  in\nblue?").message

    inquiry = db.session.get(ProductInquiry, inquiry.id)
    first_id = inquiry.last_message_id
    got = verify_action(app, follow_up, announced(inquiry, site_id))
    message = sent["message"]
    # What streams need to render it without a read: the message it follows, what it shows.
    assert got[0] == records.MessageStored(
        inquiry.id,
        product.id,
        message.id,
        "customer",
        after_id=first_id,
        after_public_id=first_id,
        message_type="text",
        visibility="public",
        text="And  in\nblue?",
        created_at=message.created_at.isoformat(),
    )
    assert got[0] == got[1] and got[0].follows("admin") == got[0].follows("customer") == first_id
    assert db.session.get(ProductInquiry, inquiry.id).last_message_id == message.id
    # The list row as it is now, whole: lists match and render it without a query.
    inquiry = db.session.get(ProductInquiry, inquiry.id)
    assert got[2] == records.InquiryChanged(
        inquiry.id,
        product.id,
        "message",
        status="pending",
        priority="medium",
        queue_key=inquiry.queue_key,
        waiting_since=inquiry.waiting_since.isoformat(),
        assigned_admin_id=None,
        assignee_name=None,
        rating=None,
        rating_comment=None,
        product_name=product.name,
        product_image_url=product.image_url,
        site_id=site_id,
        site_name=product.site.name,
        customer_email=None,
        session_prefix=session[:6],
        message_count=2,
        unread_count=2,
        last_sender="customer",
        last_text="And  in\nblue?",
        last_files=(),
        message_id=message.id,
        sender_type="customer",
        built_ns=got[2].built_ns,
    )
    assert got[2].built_ns >= sent["before_ns"]  # built during the send (lists keep the newest)
    assert got[4].message_id == message.id and got[4].counts[str(site_id)] >= 1
    assert got[6] == records.CustomerWrote(inquiry.id, message.id, "followup", product.name, "And in blue?")


def test_the_first_message_is_announced_as_new(app, shop):
    product, site_id, _ = shop
    got = verify_action(app, lambda: new_inquiry(product, "new" * 10), lambda inquiry: announced(inquiry, site_id))
    assert got[-1].kind == "new"


def test_an_admin_answers(app, shop):
    from chat.services import inquiries

    product, site_id, admin = shop
    inquiry = new_inquiry(product, "answer" * 5)
    question_id = inquiry.last_message_id
    expected = (
        announced(inquiry, site_id, wrote=False)
        + [(f"inquiry:{inquiry.id}", Event.MESSAGE)]  # "Marked in progress" (a workflow note)
        + to_admins("admins:list", site_id, Event.INQUIRY)
        + to_admins("admins:notices", site_id, Event.WAITING)
        + [(f"inquiry:{inquiry.id}", Event.CONTROLS)]
    )
    before = inquiries.waiting_by_site()[str(site_id)]
    got = verify_action(app, lambda: inquiries.respond(inquiry.id, admin, "Yes, it is."), expected)
    assert got[0].sender_type == "admin" and got[6].sender_type == "admin"
    # The answer follows the customer's message for both sides; the workflow note (read) the answer.
    assert got[0].follows("admin") == got[0].follows("customer") == question_id
    assert got[0].text == "Yes, it is." and got[0].sender_name == admin.name and got[0].public_sender_name
    assert got[6].message_id > got[0].message_id and got[6].follows("admin") is None
    assert got[4].counts.get(str(site_id), 0) == before - 1  # answered: one fewer waits
    # The row after the answer, then after the note: answered, in progress, the answer its preview.
    assert (got[2].status, got[2].waiting_since, got[2].message_count) == ("pending", None, 2)
    assert (got[8].status, got[8].message_count, got[8].unread_count) == ("in_progress", 3, 1)
    assert (got[8].last_sender, got[8].last_text, got[8].sender_type) == ("admin", "Yes, it is.", "admin")
    controls = got[-1]
    assert controls.status == "in_progress" and (admin.id, admin.name) in controls.admins


def test_a_private_note_reaches_admins_only(app, shop):
    from chat.services import notes

    product, site_id, admin = shop
    inquiry = new_inquiry(product, "note" * 8)
    question_id = inquiry.last_message_id
    got = verify_action(
        app,
        lambda: notes.add(inquiry.id, admin, "Call them back"),
        announced(inquiry, site_id, public=False, wrote=False),
    )
    assert got[0].sender_type == "admin"
    # Only admins hear of it, and it follows the customer's message for them.
    assert got[0].visibility == "internal" and got[0].follows("admin") == question_id
    assert got[0].after_public_id == question_id  # the customer never hears of it
    assert db.session.get(ProductInquiry, inquiry.id).last_public_message_id == question_id


def test_marks_read_and_delivered_both_ways(app, shop):
    from chat.services import conversations, inquiries

    product, site_id, admin = shop
    inquiry = new_inquiry(product, "marks" * 6)
    customer, shop_side = f"customer:{inquiry.session_id}", f"inquiry:{inquiry.id}"
    got = verify_action(
        app,
        lambda: conversations.mark_read(inquiry.id, reader="admin"),
        [(customer, Event.MARKS)] + to_admins("admins:list", site_id, Event.INQUIRY),
    )
    first = conversations.list_messages(inquiry.id).messages[0]
    assert got[0] == records.Marks(inquiry.id, product.id, "admin", "read", ((first.id, "read", ""),))
    assert (got[1].why, got[1].unread_count, got[1].message_count, got[1].last_text) == (
        "read",
        0,
        1,
        "Is it waterproof?",
    )

    answer = inquiries.respond(inquiry.id, admin, "Yes.").message
    got = verify_action(
        app, lambda: conversations.mark_delivered(inquiry.id, "customer", [answer.id]), [(shop_side, Event.MARKS)]
    )
    assert got[0].marks == ((answer.id, "delivered", ""),)
    got = verify_action(
        app,
        lambda: conversations.mark_read(inquiry.id, reader="customer"),
        [(shop_side, Event.MARKS), (customer, Event.UNREAD)],
    )
    assert got[0].marks == ((answer.id, "read", ""),) and got[1] == records.Unread(inquiry.id, product.id)
    verify_action(app, lambda: conversations.mark_read(inquiry.id, reader="customer"), [])  # nothing moved


def test_typing_both_ways(app, shop):
    from chat.services import conversations

    product, _, _ = shop
    inquiry = new_inquiry(product, "typing" * 5)
    got = verify_action(
        app, lambda: conversations.announce_typing(inquiry, "customer"), [(f"inquiry:{inquiry.id}", Event.TYPING)]
    )
    assert got == [records.Typing(inquiry.id, product.id, "customer")]
    got = verify_action(
        app,
        lambda: conversations.announce_typing(inquiry, "admin"),
        [(f"customer:{inquiry.session_id}", Event.TYPING)],
    )
    assert got[0].sender == "admin"


@pytest.mark.parametrize(
    "change",
    [
        lambda inquiry, admin, inquiries: inquiries.set_status(inquiry.id, admin, "closed"),
        lambda inquiry, admin, inquiries: inquiries.set_priority(inquiry.id, admin, "high"),
        lambda inquiry, admin, inquiries: inquiries.assign(inquiry.id, admin, admin.id),
    ],
    ids=["status", "priority", "assignee"],
)
def test_status_priority_and_assignee_changes(app, shop, change):
    from chat.services import conversations, inquiries

    product, site_id, admin = shop
    inquiry = new_inquiry(product, "change" * 5)
    expected = (
        [(f"inquiry:{inquiry.id}", Event.MESSAGE)]  # the workflow note
        + to_admins("admins:list", site_id, Event.INQUIRY)
        + to_admins("admins:notices", site_id, Event.WAITING)
        + [(f"inquiry:{inquiry.id}", Event.CONTROLS)]
    )
    got = verify_action(app, lambda: change(inquiry, admin, inquiries), expected)
    inquiry = db.session.get(ProductInquiry, inquiry.id)
    assert (got[-1].status, got[-1].priority, got[-1].assignee_id) == (
        inquiry.status,
        inquiry.priority,
        inquiry.assigned_admin_id,
    )
    # The list row shows the change (a note: the customer's message stays its preview).
    row = got[1]
    assert (row.status, row.priority, row.assigned_admin_id, row.queue_key) == (
        inquiry.status,
        inquiry.priority,
        inquiry.assigned_admin_id,
        inquiry.queue_key,
    )
    assert row.assignee_name == (admin.name if inquiry.assigned_admin_id else None)
    counted = conversations.message_count(inquiry.id)
    assert (row.message_count, row.last_sender, row.last_text) == (counted, "customer", "Is it waterproof?")


def test_a_customer_reopens_a_closed_inquiry(app, shop):
    from chat.services import conversations, inquiries

    product, site_id, admin = shop
    session = "reopen" * 5
    inquiry = new_inquiry(product, session)
    inquiries.set_status(inquiry.id, admin, "closed")
    expected = [(f"inquiry:{inquiry.id}", Event.CONTROLS)] + announced(inquiry, site_id)
    got = verify_action(app, lambda: conversations.send_customer_message(product.id, session, "Still there?"), expected)
    assert got[0].status == "pending"
    # Its row: reopened, the message and the "reopened" note counted (and the closing note).
    row = got[3]
    assert (row.status, row.message_count, row.unread_count, row.last_text) == ("pending", 4, 2, "Still there?")


def test_presence_open_and_leave(app, shop):
    from chat.services import inquiries

    product, _, admin = shop
    inquiry = new_inquiry(product, "presence" * 4)
    channel = [(f"inquiry:{inquiry.id}", Event.PRESENCE)]
    got = verify_action(app, lambda: inquiries.see(inquiry.id, admin.id), channel)
    assert got[0] == records.Presence(inquiry.id, ((admin.id, admin.name),))
    verify_action(app, lambda: inquiries.see(inquiry.id, admin.id), [])  # a heartbeat: no news
    got = verify_action(app, lambda: inquiries.leave(inquiry.id, admin.id), channel)
    assert got[0].viewers == ()


def test_a_rating(app, shop):
    from chat.services import inquiries, ratings

    product, site_id, admin = shop
    inquiry = new_inquiry(product, "rating" * 5)
    inquiries.set_status(inquiry.id, admin, "resolved")
    inquiry = db.session.get(ProductInquiry, inquiry.id)
    got = verify_action(
        app,
        lambda: ratings.rate(inquiry, "good", "Quick!"),
        [(f"inquiry:{inquiry.id}", Event.CONTROLS)] + to_admins("admins:list", site_id, Event.INQUIRY),
    )
    assert (got[0].rating, got[0].rating_comment) == ("good", "Quick!") and got[0].rated_at
    assert (got[1].why, got[1].rating, got[1].rating_comment, got[1].status) == ("rating", "good", "Quick!", "resolved")


def test_a_broker_event_that_is_no_record_is_refused(app):
    with pytest.raises(records.BadEvent):
        records.decode({"type": "message", "data": {"inquiry_id": 1}})
    with pytest.raises(records.BadEvent):
        records.decode({"type": "typing", "data": {"inquiry_id": 1, "product_id": True, "sender": "admin"}})
    with pytest.raises(records.BadEvent):
        records.decode({"type": "nonsense", "data": {}})


def test_a_stream_skips_a_bad_event_and_goes_on(app):
    from .chat_helpers import admin_login
    from .test_inbox import Stream

    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    client = app.test_client()
    admin_login(client, *app.demo_login)
    page = Stream(client)  # a page with no list and no inquiry: the badge and notifications
    page.until_quiet()
    broker = current_broker(app)
    broker.publish("admins:notices", {"type": "waiting", "id": None, "data": {"counts": "lots"}})
    broker.publish("admins:notices", records.Waiting({"1": 2, "2": 1}).wire())
    assert page.until_quiet() == [(Event.WAITING, "3")]
    page.close()


def test_every_event_has_a_record_a_schema_and_an_action_test():
    for event in Event:
        assert (event in records.RECORDS) != (event in records.STREAM_ONLY), event
    for event, cls in records.RECORDS.items():
        fields = typing.get_type_hints(cls)
        assert {f.name: fields[f.name] for f in dataclasses.fields(cls)} == SCHEMAS[event], event
    # Runs last in this module (pytest keeps file order): every record was seen emitted above.
    if not SEEN:
        pytest.skip("run with the module's action tests")
    assert SEEN == set(records.RECORDS)
