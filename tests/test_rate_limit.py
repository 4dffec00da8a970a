"""Flask-Limiter stops floods of messages, and guessing of admin passwords."""
import pytest

from chat.models import ProductMessage

from .chat_helpers import (BO_EMAIL, BO_PASSWORD, admin_login, count, csrf_token, first_product_id, login_form_token,
                           send_html)


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "CHAT_SEND_RATE_LIMIT": "3/minute", "RATELIMIT_STORAGE_URI": "memory://"}


def test_a_flood_of_messages_is_refused_with_429(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    client.get(f"/products/{pid}/chat", headers={"HX-Request": "true"})  # opening the panel starts the session
    statuses = [send_html(client, pid, f"spam {i}", token).status_code for i in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    assert count(app, ProductMessage) == 3
    api = client.post(f"/api/products/{pid}/messages", json={"message_text": "more"}, headers={"X-CSRFToken": token})
    assert api.status_code == 429 and "error" in api.get_json()


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
    statuses = [sprayer.post("/admin/login", data=form(sprayer, f"user{i}@example.com", "guess")).status_code
                for i in range(4)]
    assert statuses == [401] * 4
    # A fifth account from the same address: paused, even with a right password.
    assert_paused(sprayer.post("/admin/login", data=form(sprayer, demo["admin_email"], demo["admin_password"])))
    # Another address logs in as usual.
    other = client_at(app, "10.0.0.4")
    admin_login(other, demo["admin_email"], demo["admin_password"])


def test_wrong_current_passwords_on_the_account_page_are_limited(app, admin, demo):
    app.config["LOGIN_FAILURES_PER_ACCOUNT"] = "2/15 minutes"
    client, token, _ = admin
    data = {"current_password": "guess", "new_password": "new-password-1", "confirm_password": "new-password-1",
            "csrf_token": token}
    assert [client.post("/admin/account/password", data=data).status_code for _ in range(2)] == [403, 403]
    data["current_password"] = demo["admin_password"]
    assert_paused(client.post("/admin/account/password", data=data), page_text="Your account")
    assert client.get("/admin/account").status_code == 200  # the account itself goes on working
    # Another admin's password change is not affected.
    bo = app.test_client()
    bo_token = admin_login(bo, BO_EMAIL, BO_PASSWORD)
    changed = bo.post("/admin/account/password", data={"current_password": BO_PASSWORD, "csrf_token": bo_token,
                                                       "new_password": "bo-password-2", "confirm_password": "bo-password-2"})
    assert changed.status_code == 302
