"""Flask-Limiter stops floods of messages and login attempts."""
import re

import pytest

from chat.models import ProductMessage

from .chat_helpers import Shopper, count, first_product_id


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "CHAT_SEND_RATE_LIMIT": "3/minute", "RATELIMIT_STORAGE_URI": "memory://"}


def test_a_flood_of_messages_is_refused_with_429(app, demo):
    pid = first_product_id(app)
    shopper = Shopper(app)
    assert shopper.send(pid, "hello").status_code == 201  # before it had a session: counted for its address
    statuses = [shopper.send(pid, f"spam {i}").status_code for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    limited = shopper.send(pid, "again")
    assert "Retry-After" in limited.headers and "faster than we can take them" in limited.get_data(as_text=True)
    assert count(app, ProductMessage) == 4
    # One budget, whichever way the messages come in.
    api = shopper.client.post(f"/api/products/{pid}/messages", json={"message_text": "more"},
                              headers={"X-Chat-Session": shopper.token})
    assert api.status_code == 429 and "error" in api.get_json()


def test_password_guessing_is_slowed_down(client, app, demo):
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": "admin@example.com", "password": "guess", "csrf_token": token}
    statuses = [client.post("/admin/login", data=form).status_code for _ in range(12)]
    assert statuses == [401] * 10 + [429, 429]


def _first_message(app, product_id, ip, token=None, text="hello"):
    headers = {"X-Chat-Session": token} if token else {}
    return app.test_client().post(f"/api/products/{product_id}/messages", json={"message_text": text},
                                  headers=headers, environ_base={"REMOTE_ADDR": ip})


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                                          "CHAT_NEW_SESSIONS_PER_IP": "3/minute"}])
def test_one_address_cannot_mint_sessions_without_end(app, demo):
    pid = first_product_id(app)
    minted = [_first_message(app, pid, "203.0.113.5") for _ in range(4)]
    assert [r.status_code for r in minted] == [201, 201, 201, 429]
    refused = minted[-1]
    assert "Retry-After" in refused.headers
    assert "Too many new conversations" in refused.get_json()["error"]
    assert count(app, ProductMessage) == 3
    # Shoppers who already have a session carry on; other addresses are unaffected.
    own = _first_message(app, pid, "203.0.113.5", token=minted[0].headers["X-Chat-Session"], text="again")
    assert own.status_code == 201
    assert _first_message(app, pid, "198.51.100.7").status_code == 201


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                                          "CHAT_NEW_INQUIRIES_PER_IP": "2/minute"}])
def test_one_address_cannot_open_conversations_without_end(app, demo):
    from .chat_helpers import messages_of

    ids = _product_ids(app)
    first = _first_message(app, ids[0], "203.0.113.9")
    token = first.headers["X-Chat-Session"]
    assert _first_message(app, ids[1], "203.0.113.9", token).status_code == 201
    third = _first_message(app, ids[2], "203.0.113.9", token, text="third product")
    assert third.status_code == 429 and "Retry-After" in third.headers
    # Writing on in an existing conversation is not a new one.
    assert _first_message(app, ids[0], "203.0.113.9", token, text="follow-up").status_code == 201
    assert "third product" not in messages_of(app)


def _product_ids(app):
    import sqlalchemy as sa

    from chat.extensions import db
    from chat.models import Product

    with app.app_context():
        return db.session.scalars(sa.select(Product.id).order_by(Product.id)).all()


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                                          "CHAT_TYPING_RATE_LIMIT": "2/minute"}])
def test_typing_signals_are_limited_per_session(app, demo):
    pid = first_product_id(app)
    token = _first_message(app, pid, "203.0.113.20").headers["X-Chat-Session"]
    client = app.test_client()
    statuses = [client.post(f"/embed/demo/products/{pid}/typing", headers={"X-Chat-Session": token}).status_code
                for _ in range(3)]
    assert statuses == [204, 204, 429]


@pytest.mark.parametrize("app_config", [{"CHAT_URGENT_MAILS_PER_HOUR": 2}])
def test_a_flood_of_urgent_questions_becomes_one_digest(app, demo):
    import sqlalchemy as sa

    from chat.extensions import db
    from chat.models import OutboxEmail

    from .chat_helpers import make_inquiry

    pid = first_product_id(app)
    for i in range(5):
        make_inquiry(app, pid, f"URGENT secret-text-{i}: it arrived broken")
    with app.app_context():
        mails = db.session.scalars(sa.select(OutboxEmail).order_by(OutboxEmail.id)).all()
        single = [m for m in mails if m.dedupe_key.startswith("high:")]
        digests = [m for m in mails if m.dedupe_key.startswith("digest:")]
        assert len(single) == 2 and len(digests) == 1
        digest = digests[0]
        assert digest.subject == "More urgent questions (3)"
        assert digest.body_text.count("/admin/inquiries/") == 3 and digest.body_html.count("<li>") == 3
        assert "secret-text" not in digest.body_text + digest.body_html  # no message text in a digest
        assert digest.next_attempt_at > digest.created_at  # sent when the hour is over
