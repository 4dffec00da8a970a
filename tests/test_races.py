"""Retries and double clicks that arrive at the same moment: stored once, answered 2xx."""

import threading
import uuid

import sqlalchemy as sa

from chat.extensions import db
from chat.models import ProductMessage, User
from chat.services import admin_tokens

from .chat_helpers import first_product_id, make_inquiry


def _at_once(count, request):
    """Run ``request(i)`` in ``count`` threads released together; returns the responses."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        results[i] = request(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _bearer(app):
    with app.app_context():
        admin = db.session.scalar(sa.select(User))
        return {"Authorization": f"Bearer {admin_tokens.create(admin, 'race')}"}


def _texts(app, inquiry_id):
    with app.app_context():
        return db.session.scalars(
            sa.select(ProductMessage.message_text).filter_by(inquiry_id=inquiry_id).order_by(ProductMessage.id)
        ).all()


def test_racing_admin_retries_store_one_answer_and_one_note(app, demo):
    inquiry_id = make_inquiry(app, first_product_id(app), "Is it waterproof?")
    auth = _bearer(app)
    client_id = str(uuid.uuid4())

    def respond(_):
        response = app.test_client().post(
            f"/api/admin/inquiries/{inquiry_id}/respond",
            headers=auth,
            json={"message_text": "Yes, fully.", "client_message_id": client_id},
        )
        return response.status_code, response.get_json()

    results = _at_once(6, respond)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 5 + [201], results
    assert len({body["id"] for _, body in results}) == 1  # every retry got the stored answer
    assert _texts(app, inquiry_id) == ["Is it waterproof?", "Yes, fully.", "Marked in progress by Demo Admin"]


def test_two_first_answers_at_once_leave_one_status_note(app, demo):
    inquiry_id = make_inquiry(app, first_product_id(app), "Sizes?")
    auth = _bearer(app)

    def respond(i):
        return (
            app.test_client()
            .post(f"/api/admin/inquiries/{inquiry_id}/respond", headers=auth, json={"message_text": f"Answer {i}"})
            .status_code
        )

    assert _at_once(2, respond) == [201, 201]
    texts = _texts(app, inquiry_id)
    assert sorted(texts) == ["Answer 0", "Answer 1", "Marked in progress by Demo Admin", "Sizes?"]


def test_racing_customer_retries_store_one_message(app, demo):
    product_id = first_product_id(app)
    first = app.test_client().post(
        f"/api/products/{product_id}/messages", json={"message_text": "hello", "sender_type": "customer"}
    )
    token = first.headers["X-Chat-Session"]
    client_id = str(uuid.uuid4())

    def send(_):
        response = app.test_client().post(
            f"/api/products/{product_id}/messages",
            headers={"X-Chat-Session": token},
            json={"message_text": "Do you ship to Norway?", "sender_type": "customer", "client_message_id": client_id},
        )
        return response.status_code, response.get_json()["id"]

    results = _at_once(6, send)
    assert sorted(status for status, _ in results) == [200] * 5 + [201], results
    assert len({message_id for _, message_id in results}) == 1
    assert _texts(app, first.get_json()["inquiry_id"]) == ["hello", "Do you ship to Norway?"]


def test_racing_html_answers_with_one_client_id(app, demo):
    from .chat_helpers import admin_login

    inquiry_id = make_inquiry(app, first_product_id(app), "Colours?")
    client = app.test_client()
    token = admin_login(client, demo["admin_email"], demo["admin_password"])
    cookie = client.get_cookie("session").value
    client_id = str(uuid.uuid4())

    def answer(_):
        browser = app.test_client()
        browser.set_cookie("session", cookie)
        return browser.post(
            f"/admin/inquiries/{inquiry_id}/messages",
            data={"message_text": "Blue and red.", "client_message_id": client_id},
            headers={"HX-Request": "true", "X-CSRFToken": token},
        ).status_code

    assert sorted(_at_once(4, answer)) == [200, 200, 200, 201]
    assert _texts(app, inquiry_id).count("Blue and red.") == 1
