"""Private notes: other admins see them (live too); the customer never does, anywhere."""

import re
import uuid
from datetime import timedelta

import sqlalchemy as sa

from chat.extensions import db
from chat.live import current_broker
from chat.live.names import Event, customer_channel, inquiry_channel
from chat.models import OutboxEmail, Product, ProductInquiry, utcnow
from chat.services import conversations, notifications, shoppers

from .chat_helpers import Shopper, first_product_id


def _setup(app, admin):
    """A shopper (with an email for answers) asks; returns (shopper, product, inquiry id)."""
    client, token, ids = admin
    pid = first_product_id(app)
    with app.app_context():
        external = db.session.get(Product, pid).external_id
    shopper = Shopper(app)
    assert shopper.send(external, "Does it fit a 15 inch laptop?").status_code == 201
    with app.app_context():
        inquiry = db.session.scalar(sa.select(ProductInquiry))
        shoppers.set_email(inquiry.session_id, "pat@example.com", True)
        return shopper, external, pid, inquiry.id, inquiry.session_id


def _add_note(admin, inquiry_id, text):
    client, token, _ = admin
    return client.post(
        f"/admin/inquiries/{inquiry_id}/notes",
        data={"text": text},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )


def _customer_sees(app, shopper, external, pid):
    """Every customer-facing response about the conversation, concatenated."""
    api = app.test_client()
    parts = [
        shopper.get(f"/products/{external}").get_data(as_text=True),
        shopper.conversation(external),
        shopper.get(f"/products/{external}/messages?after=0").get_data(as_text=True),
        shopper.get("/conversations").get_data(as_text=True),
        api.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": shopper.token}).get_data(as_text=True),
    ]
    return "\n".join(parts)


def test_a_note_never_reaches_the_customer(app, admin):
    shopper, external, pid, inquiry_id, session_id = _setup(app, admin)
    client, token, _ = admin
    marker = f"NOTE-{uuid.uuid4().hex}"
    sub = current_broker(app).subscribe([customer_channel(session_id)])
    with app.app_context():
        waiting_before = db.session.get(ProductInquiry, inquiry_id).waiting_since
        unread_before = conversations.unread_across(session_id, db.session.get(Product, pid).site_id)

    response = _add_note(admin, inquiry_id, f"VIP customer, offer free shipping {marker}")
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    assert "Private note" in html and marker in html and 'class="msg note internal"' in html
    # The JSON API too.
    api = client.post(
        f"/api/admin/inquiries/{inquiry_id}/notes", json={"text": f"second {marker}"}, headers={"X-CSRFToken": token}
    )
    assert api.status_code == 201
    assert api.get_json()["message_type"] == "note" and api.get_json()["visibility"] == "internal"

    # Then a real answer, so the conversation goes on around the notes.
    answer = client.post(
        f"/admin/inquiries/{inquiry_id}/messages",
        data={"message_text": "Yes, up to 16 inch."},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert answer.status_code == 201

    seen = _customer_sees(app, shopper, external, pid)
    assert "Yes, up to 16 inch." in seen  # the answer is there...
    assert marker not in seen and "Private note" not in seen  # ...the notes are not

    # The live channel carried the answer, never the notes (nor a typing signal).
    events = []
    while (event := sub.get(0.05)) is not None:
        events.append(event)
    assert [e["type"] for e in events if e["type"] == Event.MESSAGE] == [Event.MESSAGE]
    assert not [e for e in events if e["type"] == Event.TYPING]
    current_broker(app).unsubscribe(sub)

    with app.test_request_context(f"/embed/demo/stream?product={external}"):
        from chat.embed.live import ShopperStream
        from chat.services import sites

        replay = ShopperStream(session_id, sites.demo_site().id, external).replay(0)
        assert replay and all(marker not in str(message.data) for message in replay)

    with app.app_context():
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        # Unread: only the answer counts; the notes did not make the badge move.
        assert conversations.unread_across(session_id, inquiry.product.site_id) == unread_before + 1
        # Emails: the "you have an answer" mail holds the answer, no note; no mail holds a note.
        notifications.scan(now=utcnow() + timedelta(hours=2))
        mails = db.session.scalars(sa.select(OutboxEmail)).all()
        assert any(m.to_addr == "pat@example.com" and "16 inch" in m.body_text for m in mails)
        assert all(marker not in (m.body_text + (m.body_html or "") + m.subject) for m in mails)
        assert waiting_before is not None


def test_a_note_is_not_an_answer(app, admin):
    """The customer still waits, the first response is not timed, the list preview is the customer's words."""
    shopper, external, pid, inquiry_id, session_id = _setup(app, admin)
    client, token, _ = admin
    with app.app_context():
        before = db.session.get(ProductInquiry, inquiry_id)
        waiting, updated = before.waiting_since, before.updated_at
    assert _add_note(admin, inquiry_id, "Checking with the warehouse").status_code == 201
    with app.app_context():
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        assert inquiry.waiting_since == waiting and inquiry.first_response_at is None
        assert inquiry.status == "pending" and inquiry.updated_at == updated
        assert conversations.message_count(inquiry_id) == 2  # admins count it
    waiting_list = client.get("/admin?status=waiting").get_data(as_text=True)
    assert f'id="inq-{inquiry_id}"' in waiting_list and "Checking with the warehouse" not in waiting_list
    api = app.test_client().get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": shopper.token})
    # The customer's counts do not even reveal that a note exists.
    assert api.get_json()["inquiry"]["unread_count"] == 0 and api.get_json()["inquiry"]["message_count"] == 1
    # Nor its time: the inquiry's updated_at did not move (checked above), so "Your questions" keeps its order.


def test_other_admins_see_the_note_live_and_on_the_page(app, admin):
    shopper, external, pid, inquiry_id, session_id = _setup(app, admin)
    client, token, ids = admin
    sub = current_broker(app).subscribe([inquiry_channel(inquiry_id)])
    assert _add_note(admin, inquiry_id, "Ask Bo about the 2024 model").status_code == 201
    event = sub.get(1)
    current_broker(app).unsubscribe(sub)
    assert event["type"] == Event.MESSAGE
    with app.test_request_context("/admin/stream"):
        from chat.admin.live import AdminStream

        stream = AdminStream(ids["bo"], inquiry_id=inquiry_id)
        assert stream.shows(event)
        rendered = stream.arrived(stream.messages_after(event["id"] - 1), event)
        html = rendered[0].data
    assert "Private note" in html and "Ask Bo about the 2024 model" in html and "msg note" in html
    page = client.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    assert "Ask Bo about the 2024 model" in page


def test_the_note_box_never_signals_typing(app, admin):
    """The answer box posts "typing"; the note box has no such trigger, so writing a note shows the customer nothing."""
    shopper, external, pid, inquiry_id, session_id = _setup(app, admin)
    client, _, _ = admin
    page = client.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    note_form = re.search(r'<form class="note-form".*?</form>', page, re.S).group(0)
    answer_box = re.search(r'<textarea id="chat-text".*?>', page, re.S).group(0)
    assert f"/admin/inquiries/{inquiry_id}/typing" in answer_box
    assert "typing" not in note_form and "hx-trigger" not in note_form


def test_an_empty_note_is_refused_and_nothing_is_stored(app, admin):
    shopper, external, pid, inquiry_id, session_id = _setup(app, admin)
    client, token, _ = admin
    response = _add_note(admin, inquiry_id, "   ")
    assert response.status_code == 422 and "Please type a message." in response.get_data(as_text=True)
    api = client.post(f"/api/admin/inquiries/{inquiry_id}/notes", json={"note": "x"}, headers={"X-CSRFToken": token})
    assert api.status_code == 422 and api.get_json()["fields"] == {"text": "required"}
    assert (
        client.post("/api/admin/inquiries/999999/notes", json={"text": "x"}, headers={"X-CSRFToken": token}).status_code
        == 404
    )
    # Customers cannot post notes (no admin session).
    assert app.test_client().post(f"/api/admin/inquiries/{inquiry_id}/notes", json={"text": "x"}).status_code == 401
    with app.app_context():
        assert conversations.message_count(inquiry_id) == 1
