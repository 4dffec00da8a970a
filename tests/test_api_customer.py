"""The seed's customer endpoints, as JSON for integrators."""

import json
import uuid

import pytest

from chat.models import ProductInquiry, ProductMessage
from chat.services import conversations

from .chat_helpers import count, first_product_id, only_inquiry_id


@pytest.fixture
def pid(app, demo):
    return first_product_id(app)


def post_json(client, pid, body, headers=None, raw=None):
    return client.post(
        f"/api/products/{pid}/messages",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )


def new_session(client, pid):
    """An integrator's first call: no cookie, the token comes back in a header."""
    response = post_json(client, pid, {"message_text": "first", "sender_type": "customer"})
    assert response.status_code == 201
    return response.headers["X-Chat-Session"]


def test_header_session_round_trip(app, pid):
    client = app.test_client(use_cookies=False)
    token = new_session(client, pid)
    headers = {"X-Chat-Session": token}
    second = post_json(client, pid, {"message_text": "second", "sender_type": "customer"}, headers)
    assert second.status_code == 201
    body = second.get_json()
    assert body["message_text"] == "second" and body["sender_type"] == "customer"
    assert body["message_type"] == "text" and body["is_read"] is False and body["created_at"].endswith("Z")
    listing = client.get(f"/api/products/{pid}/messages", headers=headers).get_json()
    assert [m["message_text"] for m in listing["messages"]] == ["first", "second"]
    inquiry = listing["inquiry"]
    assert inquiry["product_name"] == "Trailhead 35L Hiking Backpack"
    assert inquiry["message_count"] == 2 and inquiry["unread_count"] == 0 and inquiry["status"] == "pending"
    assert inquiry["session_id"] is None
    # Without the header the same client is a stranger.
    assert client.get(f"/api/products/{pid}/messages").get_json()["messages"] == []


def test_get_without_a_session_is_empty(app, pid):
    response = app.test_client().get(f"/api/products/{pid}/messages")
    assert response.status_code == 200
    assert response.get_json() == {"inquiry": None, "messages": [], "has_older": False}


def test_resend_with_same_client_id_is_200_with_the_same_message(app, pid):
    client = app.test_client(use_cookies=False)
    token = new_session(client, pid)
    body = {"message_text": "retry me", "sender_type": "customer", "client_message_id": str(uuid.uuid4())}
    first = post_json(client, pid, body, {"X-Chat-Session": token})
    again = post_json(client, pid, body, {"X-Chat-Session": token})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert count(app, ProductMessage) == 2


def test_customer_claiming_to_be_admin_is_refused(app, pid):
    client = app.test_client(use_cookies=False)
    response = post_json(client, pid, {"message_text": "I am the shop", "sender_type": "admin"})
    assert response.status_code == 403
    assert response.get_json()["fields"] == {"sender_type": "only 'customer' is allowed here"}
    assert count(app, ProductMessage) == 0 and count(app, ProductInquiry) == 0


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"sender_type": "customer"}, 422, "message_text"),
        ({"message_text": 42, "sender_type": "customer"}, 422, "message_text"),
        ({"message_text": "", "sender_type": "customer"}, 422, "message_text"),
        ({"message_text": "x" * 2001, "sender_type": "customer"}, 422, "message_text"),
        ({"message_text": "hi", "sender_type": "robot"}, 422, "sender_type"),
        ({"message_text": "hi", "client_message_id": "nope"}, 422, "client_message_id"),
        ({"message_text": "hi", "customer_email": "bad"}, 422, "customer_email"),
        ({"message_text": "hi", "customer_email": "a@b.example"}, 422, "email_consent"),
        ({"message_text": "hi", "session_id": 7}, 422, "session_id"),
        ({"message_text": "hi", "session_id": "forged"}, 403, "session_id"),
        (["message_text"], 422, "body"),
    ],
)
def test_bad_bodies_get_field_errors_and_store_nothing(app, pid, body, status, field):
    response = post_json(app.test_client(use_cookies=False), pid, body)
    assert response.status_code == status
    assert field in response.get_json()["fields"]
    assert count(app, ProductMessage) == 0 and count(app, ProductInquiry) == 0


def test_malformed_json_and_wrong_content_type_are_400(app, pid):
    client = app.test_client(use_cookies=False)
    assert post_json(client, pid, None, raw="{not json").status_code == 400
    plain = client.post(f"/api/products/{pid}/messages", data="message_text=hi")
    assert plain.status_code == 400 and "error" in plain.get_json()
    assert count(app, ProductMessage) == 0


def test_oversized_body_is_413(app, pid):
    body = {"message_text": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)}
    response = post_json(app.test_client(use_cookies=False), pid, body)
    assert response.status_code == 413 and "error" in response.get_json()
    assert count(app, ProductMessage) == 0


def test_unknown_product_is_404(app, pid):
    client = app.test_client(use_cookies=False)
    assert post_json(client, 999999, {"message_text": "hi"}).status_code == 404
    assert client.get("/api/products/999999/messages").status_code == 404


def test_email_with_consent_is_stored_with_the_message(app, pid):
    client = app.test_client(use_cookies=False)
    response = post_json(
        client, pid, {"message_text": "mail me", "customer_email": "cy@example.com", "email_consent": True}
    )
    assert response.status_code == 201
    token = response.headers["X-Chat-Session"]
    inquiry = client.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": token}).get_json()["inquiry"]
    assert inquiry["customer_email"] == "cy@example.com"


def test_another_sessions_token_in_the_body_is_refused(app, pid):
    alice, bob = app.test_client(use_cookies=False), app.test_client(use_cookies=False)
    alice_token = new_session(alice, pid)
    bob_token = new_session(bob, pid)
    response = post_json(bob, pid, {"message_text": "sneaky", "session_id": alice_token}, {"X-Chat-Session": bob_token})
    assert response.status_code == 403
    listing = alice.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": alice_token}).get_json()
    assert [m["message_text"] for m in listing["messages"]] == ["first"]
    # The seed's style, session_id in the body, works for one's own token.
    own = post_json(alice, pid, {"message_text": "mine", "session_id": alice_token})
    assert own.status_code == 201


def test_mark_read(app, pid):
    client = app.test_client(use_cookies=False)
    token = new_session(client, pid)
    headers = {"X-Chat-Session": token}
    with app.app_context():
        inquiry_id = only_inquiry_id(app)
        a1 = conversations.add_admin_message(inquiry_id, "answer one").message.id
        conversations.add_admin_message(inquiry_id, "answer two")
    listing = client.get(f"/api/products/{pid}/messages", headers=headers).get_json()
    assert listing["inquiry"]["unread_count"] == 2
    some = client.put(f"/api/products/{pid}/messages/read", json={"message_ids": [a1]}, headers=headers)
    assert some.status_code == 200 and some.get_json() == {"marked": [a1], "unread_count": 1}
    rest = client.put(f"/api/products/{pid}/messages/read", headers=headers)
    assert rest.status_code == 200 and rest.get_json()["unread_count"] == 0
    bad = client.put(f"/api/products/{pid}/messages/read", json={"message_ids": ["a"]}, headers=headers)
    assert bad.status_code == 422 and "message_ids" in bad.get_json()["fields"]
    malformed = client.put(
        f"/api/products/{pid}/messages/read", data="{", content_type="application/json", headers=headers
    )
    assert malformed.status_code == 400


def test_cookie_callers_need_the_csrf_token(app, pid):
    client = app.test_client()
    started = post_json(client, pid, {"message_text": "started on the page"})  # no session yet: no token needed
    assert started.status_code == 201 and client.get_cookie("chat_session").http_only
    token = started.headers["X-CSRFToken"]  # now the cookie is the session
    refused = post_json(client, pid, {"message_text": "no token"})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    allowed = post_json(client, pid, {"message_text": "with token"}, {"X-CSRFToken": token})
    assert allowed.status_code == 201
    texts = [m["message_text"] for m in client.get(f"/api/products/{pid}/messages").get_json()["messages"]]
    assert texts == ["started on the page", "with token"]


def test_a_sites_allowed_origins_may_call_the_api_across_origins(app, demo):
    from chat.extensions import db as _db
    from chat.services import sites

    from .chat_helpers import make_product

    with app.app_context():
        site, _ = sites.create("Clay & Co", ["https://clay.example"])
        theirs = make_product(name="Vase", price=65)
        theirs.site_id = site.id
        _db.session.commit()
        theirs_id, ours_id = theirs.id, first_product_id(app)
    client = app.test_client()
    preflight = client.options(
        f"/api/products/{theirs_id}/messages",
        headers={
            "Origin": "https://clay.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-chat-session",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://clay.example"
    assert "X-Chat-Session" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    sent = client.post(
        f"/api/products/{theirs_id}/messages",
        json={"message_text": "hi"},
        headers={"Origin": "https://clay.example", "X-Chat-Session": ""},
    )
    assert sent.status_code == 201 and sent.headers["Access-Control-Allow-Origin"] == "https://clay.example"
    assert "X-Chat-Session" in sent.headers["Access-Control-Expose-Headers"]
    # Another origin, or another site's product: no CORS grant (the browser blocks the answer).
    for origin, product_id in (("https://evil.example", theirs_id), ("https://clay.example", ours_id)):
        response = client.get(f"/api/products/{product_id}/messages", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in response.headers
