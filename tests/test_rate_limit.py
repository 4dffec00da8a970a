"""Flask-Limiter stops floods of messages, and guessing of admin passwords."""

import pytest

from chat.models import ProductMessage

from .chat_helpers import BO_EMAIL, BO_PASSWORD, Shopper, admin_login, count, first_product_id, login_form_token


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
    api = shopper.client.post(
        f"/api/products/{pid}/messages", json={"message_text": "more"}, headers={"X-Chat-Session": shopper.token}
    )
    assert api.status_code == 429 and "error" in api.get_json()


def _first_message(app, product_id, ip, token=None, text="hello"):
    headers = {"X-Chat-Session": token} if token else {}
    return app.test_client().post(
        f"/api/products/{product_id}/messages",
        json={"message_text": text},
        headers=headers,
        environ_base={"REMOTE_ADDR": ip},
    )


@pytest.mark.parametrize(
    "app_config",
    [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", "CHAT_NEW_SESSIONS_PER_IP": "3/minute"}],
)
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


@pytest.mark.parametrize(
    "app_config",
    [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", "CHAT_NEW_INQUIRIES_PER_IP": "2/minute"}],
)
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


@pytest.mark.parametrize(
    "app_config",
    [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", "CHAT_TYPING_RATE_LIMIT": "2/minute"}],
)
def test_typing_signals_are_limited_per_session(app, demo):
    pid = first_product_id(app)
    token = _first_message(app, pid, "203.0.113.20").headers["X-Chat-Session"]
    client = app.test_client()
    statuses = [
        client.post(f"/embed/demo/products/{pid}/typing", headers={"X-Chat-Session": token}).status_code
        for _ in range(3)
    ]
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


def form(client, email, password):
    return {"email": email, "password": password, "csrf_token": login_form_token(client)}


def client_at(app, ip):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def assert_paused(response, page_text="Log in"):
    """A limited caller gets a readable page: 429, Retry-After, and what to do."""
    body = response.get_data(as_text=True)
    assert response.status_code == 429, body
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed attempts." in body and "please try again in 15 minutes" in body
    assert page_text in body and 'role="alert"' in body


def test_login_limits_default_to_the_documented_settings():
    from config import Config

    assert Config.LOGIN_FAILURES_PER_ACCOUNT == "5/15 minutes"
    assert Config.LOGIN_FAILURES_PER_IP == "20/15 minutes"


def test_failed_logins_are_limited_per_account(app, admin, demo):
    app.config["LOGIN_FAILURES_PER_ACCOUNT"] = "3/15 minutes"
    guesser = client_at(app, "10.0.0.1")
    bad = form(guesser, " ADMIN@example.com", "guess")  # the same account, however it is typed
    statuses = [guesser.post("/admin/login", data=bad).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert_paused(guesser.post("/admin/login", data=bad))
    # Paused for this account from anywhere, even with the right password...
    elsewhere = client_at(app, "10.0.0.9")
    assert_paused(elsewhere.post("/admin/login", data=form(elsewhere, demo["admin_email"], demo["admin_password"])))
    # ...but other accounts log in, from the same address too.
    assert guesser.post("/admin/login", data=form(guesser, BO_EMAIL, BO_PASSWORD)).status_code == 302
    # An admin already logged in is not affected.
    client, _, _ = admin
    assert client.get("/admin").status_code == 200


def test_only_failures_count(app, demo):
    app.config["LOGIN_FAILURES_PER_ACCOUNT"] = "2/15 minutes"
    app.config["LOGIN_FAILURES_PER_IP"] = "2/15 minutes"
    client = client_at(app, "10.0.0.2")
    for _ in range(4):
        admin_login(client, demo["admin_email"], demo["admin_password"])
    no_csrf = {"email": demo["admin_email"], "password": "guess"}
    assert [client.post("/admin/login", data=no_csrf).status_code for _ in range(3)] == [400] * 3
    assert client.post("/admin/login", data=form(client, demo["admin_email"], "guess")).status_code == 401
    admin_login(client, demo["admin_email"], demo["admin_password"])


def test_failed_logins_are_limited_per_address(app, admin, demo):
    app.config["LOGIN_FAILURES_PER_IP"] = "4/15 minutes"
    sprayer = client_at(app, "10.0.0.3")
    statuses = [
        sprayer.post("/admin/login", data=form(sprayer, f"user{i}@example.com", "guess")).status_code for i in range(4)
    ]
    assert statuses == [401] * 4
    # A fifth account from the same address: paused, even with a right password.
    assert_paused(sprayer.post("/admin/login", data=form(sprayer, demo["admin_email"], demo["admin_password"])))
    # Another address logs in as usual.
    other = client_at(app, "10.0.0.4")
    admin_login(other, demo["admin_email"], demo["admin_password"])


def test_wrong_current_passwords_on_the_account_page_are_limited(app, admin, demo):
    app.config["LOGIN_FAILURES_PER_ACCOUNT"] = "2/15 minutes"
    client, token, _ = admin
    data = {
        "current_password": "guess",
        "new_password": "new-password-1",
        "confirm_password": "new-password-1",
        "csrf_token": token,
    }
    assert [client.post("/admin/account/password", data=data).status_code for _ in range(2)] == [403, 403]
    data["current_password"] = demo["admin_password"]
    assert_paused(client.post("/admin/account/password", data=data), page_text="Your account")
    assert client.get("/admin/account").status_code == 200  # the account itself goes on working
    # Another admin's password change is not affected.
    bo = app.test_client()
    bo_token = admin_login(bo, BO_EMAIL, BO_PASSWORD)
    changed = bo.post(
        "/admin/account/password",
        data={
            "current_password": BO_PASSWORD,
            "csrf_token": bo_token,
            "new_password": "bo-password-2",
            "confirm_password": "bo-password-2",
        },
    )
    assert changed.status_code == 302
