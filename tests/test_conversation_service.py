"""The service layer the HTML views and the JSON API share."""

import uuid

import pytest

from chat.models import ProductInquiry, ProductMessage
from chat.services import NotFound, ValidationError, conversations, shoppers

from .chat_helpers import count, first_product_id


@pytest.fixture
def ctx(app, demo):
    with app.app_context():
        yield first_product_id(app)


def test_first_message_creates_the_inquiry_and_a_return_visit_finds_it(app, ctx):
    product_id = ctx
    assert conversations.find_inquiry(product_id, "session-a" * 3) is None
    first = conversations.send_customer_message(product_id, "session-a" * 3, 'Does it fit a 15" laptop?')
    assert first.created
    inquiry = conversations.find_inquiry(product_id, "session-a" * 3)
    assert inquiry.status == "pending" and inquiry.priority == "medium"
    conversations.send_customer_message(product_id, "session-a" * 3, "And is it waterproof?")
    page = conversations.list_messages(inquiry.id)
    assert [m.message_text for m in page.messages] == ['Does it fit a 15" laptop?', "And is it waterproof?"]
    assert count(app, ProductInquiry) == 1


def test_text_is_stored_as_typed_with_newlines(app, ctx):
    text = "Line one\r\n  <b>two</b> & 'three'\n"
    message = conversations.send_customer_message(ctx, "s" * 30, text).message
    assert message.message_text == "Line one\n  <b>two</b> & 'three'\n"


def test_pagination_newest_page_first_then_older(app, ctx):
    inquiry_id = None
    for i in range(1, 76):
        result = conversations.send_customer_message(ctx, "p" * 30, f"message {i}")
        inquiry_id = result.message.inquiry_id
    newest = conversations.list_messages(inquiry_id, limit=30)
    assert [m.message_text for m in newest.messages] == [f"message {i}" for i in range(46, 76)]
    assert newest.has_older
    older = conversations.list_messages(inquiry_id, before=newest.messages[0].id, limit=30)
    assert [m.message_text for m in older.messages] == [f"message {i}" for i in range(16, 46)]
    oldest = conversations.list_messages(inquiry_id, before=older.messages[0].id, limit=30)
    assert [m.message_text for m in oldest.messages] == [f"message {i}" for i in range(1, 16)]
    assert not oldest.has_older
    newer = conversations.list_messages(inquiry_id, after=newest.messages[-3].id, limit=30)
    assert [m.message_text for m in newer.messages] == ["message 74", "message 75"]


def test_unread_counts_and_mark_read(app, ctx):
    inquiry_id = conversations.send_customer_message(ctx, "u" * 30, "hello?").message.inquiry_id
    assert conversations.unread_count(inquiry_id, reader="customer") == 0
    assert conversations.unread_count(inquiry_id, reader="admin") == 1
    a1 = conversations.add_admin_message(inquiry_id, "Hi! Yes.").message
    a2 = conversations.add_admin_message(inquiry_id, "Anything else?").message
    assert conversations.unread_count(inquiry_id, reader="customer") == 2
    # Marking only some ids marks only those, and never the reader's own.
    own = conversations.list_messages(inquiry_id).messages[0].id
    assert conversations.mark_read(inquiry_id, "customer", message_ids=[a1.id, own]) == [a1.id]
    assert conversations.unread_count(inquiry_id, reader="customer") == 1
    assert conversations.mark_read(inquiry_id, "customer") == [a2.id]
    assert conversations.unread_count(inquiry_id, reader="customer") == 0
    assert conversations.unread_count(inquiry_id, reader="admin") == 1


def test_resend_with_the_same_client_id_stores_one_message(app, ctx):
    client_id = str(uuid.uuid4())
    first = conversations.send_customer_message(ctx, "r" * 30, "only once", client_id)
    again = conversations.send_customer_message(ctx, "r" * 30, "only once", client_id)
    assert first.created and not again.created
    assert again.message.id == first.message.id
    assert count(app, ProductMessage) == 1


def test_a_retry_tells_open_streams_again_what_a_dead_worker_stored_but_never_announced(app, ctx, monkeypatch):
    from chat.live import current_broker, events
    from chat.services import inquiries

    client_id, answer_id = str(uuid.uuid4()), str(uuid.uuid4())
    # The worker stores the message, then dies before its events go out.
    with monkeypatch.context() as dying:
        dying.setattr(events, "_send", lambda app, pending: None)
        first = conversations.send_customer_message(ctx, "d" * 30, "lost in the crash?", client_id)
    inquiry_id = first.message.inquiry_id
    broker = current_broker(app)
    shopper_tab = broker.subscribe({events.customer_channel("d" * 30)})
    admin_page = broker.subscribe({events.inquiry_channel(inquiry_id)})
    badge = broker.subscribe({events.ADMIN_NOTICES})
    try:
        again = conversations.send_customer_message(ctx, "d" * 30, "lost in the crash?", client_id)
        assert not again.created and count(app, ProductMessage) == 1
        for stream in (shopper_tab, admin_page):
            event = stream.get(1)
            assert (event["type"], event["id"]) == ("message", first.message.id)
        notice = badge.get(1)
        # The badge is refreshed, but the admins are not notified a second time.
        assert notice["type"] == "waiting" and "sender_type" not in notice["data"]

        # The same for a shop's answer retried after its worker died.
        admin = first_admin()
        with monkeypatch.context() as dying:
            dying.setattr(events, "_send", lambda app, pending: None)
            answer = inquiries.respond(inquiry_id, admin, "Stored, never announced", answer_id)
        inquiries.respond(inquiry_id, admin, "Stored, never announced", answer_id)
        assert shopper_tab.get(1)["id"] == answer.message.id
    finally:
        for stream in (shopper_tab, admin_page, badge):
            broker.unsubscribe(stream)


def first_admin():
    import sqlalchemy as sa

    from chat.extensions import db
    from chat.models import User

    return db.session.scalar(sa.select(User))


@pytest.mark.parametrize(
    "text, field",
    [
        ("", "message_text"),
        ("   \n\t ", "message_text"),
        ("x" * 2001, "message_text"),
        (42, "message_text"),
    ],
)
def test_bad_text_is_refused_and_nothing_is_stored(app, ctx, text, field):
    with pytest.raises(ValidationError) as error:
        conversations.send_customer_message(ctx, "b" * 30, text)
    assert field in error.value.fields
    assert count(app, ProductMessage) == 0 and count(app, ProductInquiry) == 0


def test_message_limit_is_configurable(app, ctx):
    app.config["CHAT_MAX_MESSAGE_LENGTH"] = 10
    with pytest.raises(ValidationError, match="at most 10"):
        conversations.send_customer_message(ctx, "c" * 30, "eleven chars")
    assert conversations.send_customer_message(ctx, "c" * 30, "ten chars!").created


def test_bad_client_id_and_unknown_product_store_nothing(app, ctx):
    with pytest.raises(ValidationError):
        conversations.send_customer_message(ctx, "d" * 30, "hi", "not-a-uuid")
    with pytest.raises(NotFound):
        conversations.send_customer_message(999999, "d" * 30, "hi")
    assert count(app, ProductMessage) == 0 and count(app, ProductInquiry) == 0


def test_writing_again_reopens_a_closed_inquiry(app, ctx):
    inquiry_id = conversations.send_customer_message(ctx, "e" * 30, "first").message.inquiry_id
    inquiry = conversations.find_inquiry(ctx, "e" * 30)
    inquiry.status = "closed"
    from chat.extensions import db

    db.session.commit()
    conversations.send_customer_message(ctx, "e" * 30, "one more thing")
    assert conversations.find_inquiry(ctx, "e" * 30).status == "pending"
    # Both messages, and a note for the admins (not for the customer) that it reopened.
    customer_view = conversations.list_messages(inquiry_id, viewer="customer").messages
    assert [m.message_text for m in customer_view] == ["first", "one more thing"]
    notes = [
        m.message_text
        for m in conversations.list_messages(inquiry_id, viewer="admin").messages
        if m.visibility == "internal"
    ]
    assert notes == ["Reopened: the customer wrote again"]


def test_email_needs_a_valid_address_consent_and_a_conversation(app, ctx):
    with pytest.raises(NotFound):
        shoppers.set_email("f" * 30, "ann@example.com", True)
    conversations.send_customer_message(ctx, "f" * 30, "question")
    with pytest.raises(ValidationError) as error:
        shoppers.set_email("f" * 30, "not-an-email", True)
    assert "customer_email" in error.value.fields
    with pytest.raises(ValidationError) as error:
        shoppers.set_email("f" * 30, "ann@example.com", False)
    assert "email_consent" in error.value.fields
    assert conversations.find_inquiry(ctx, "f" * 30).customer_email is None
    shopper = shoppers.set_email("f" * 30, " ann@example.com ", True)
    assert shopper.email == "ann@example.com" and shopper.email_consent_at is not None
    inquiry = conversations.find_inquiry(ctx, "f" * 30)
    assert inquiry.customer_email == "ann@example.com" and inquiry.email_consent_at is not None
    shoppers.forget_email("f" * 30)
    assert conversations.find_inquiry(ctx, "f" * 30).customer_email is None


def test_reply_command_adds_a_shop_answer(app, runner, ctx):
    inquiry_id = conversations.send_customer_message(ctx, "g" * 30, "hi").message.inquiry_id
    result = runner.invoke(args=["chat", "reply", str(inquiry_id), "Hello from the shop"])
    assert result.exit_code == 0, result.output
    assert conversations.unread_count(inquiry_id, reader="customer") == 1
    bad = runner.invoke(args=["chat", "reply", "424242", "nobody"])
    assert bad.exit_code != 0 and "No such inquiry" in bad.output


def test_an_answer_to_a_conversation_erased_meanwhile_is_a_404_and_stores_nothing(app, ctx):
    import sqlalchemy as sa

    from chat.extensions import db
    from chat.services import privacy

    inquiry_id = conversations.send_customer_message(ctx, "e" * 30, "Please forget me").message.inquiry_id
    conversations.get_inquiry(inquiry_id)  # the answering request has read it...
    with app.app_context():  # ...when another request erases the conversation
        privacy.erase(privacy.find_customer(inquiry_id=inquiry_id))
    with pytest.raises(NotFound):
        conversations.add_admin_message(inquiry_id, "Too late")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(ProductMessage.id))) == 0
