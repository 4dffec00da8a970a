"""Admin sessions end on the server: logout, log out everywhere, password changes,
deactivation; a kept copy of the cookies is refused everywhere afterwards."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import AdminSession, ApiToken, ProductInquiry, ProductMessage, User, utcnow
from chat.services import admin_sessions, admin_tokens

from .chat_helpers import BO_EMAIL, BO_PASSWORD, admin_login, first_product_id, login_form_token, make_inquiry

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
COOKIES = ("session", "remember_token")


def kept_cookies(client):
    """The browser's cookies as an attacker would copy them."""
    return {name: client.get_cookie(name).value for name in COOKIES if client.get_cookie(name) is not None}


def replay(app, cookies):
    """A fresh client that sends nothing but the kept cookies."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def logged_in(app, email, password, user_agent=None, remember=False):
    client = app.test_client()
    if user_agent:
        client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client, admin_login(client, email, password, remember=remember)


def refused(response):
    """What a caller without a live login gets: the login redirect, or a 401."""
    if response.status_code == 302:
        return "/admin/login" in response.headers["Location"]
    return response.status_code == 401


def sessions_of(app, user_id):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(AdminSession.id)).where(AdminSession.user_id == user_id))


def admin_routes(app):
    """Every rule of the admin panel and the admin API (but the login form), as (method, rule)."""
    routes = []
    for rule in app.url_map.iter_rules():
        # The login and an invitation's acceptance are public (the signed link is the credential).
        if rule.endpoint in ("admin.login", "admin.accept_invitation") or not rule.endpoint.startswith(
            ("admin.", "api.admin.")
        ):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, rule))
    return routes


def test_a_kept_cookie_is_refused_on_every_admin_route_after_logout(app, admin):
    client, token, ids = admin
    inquiry_id = make_inquiry(app, first_product_id(app), "hello")
    client.post("/admin/tokens", data={"name": "sync", "csrf_token": token})
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
        session_id = db.session.scalar(sa.select(AdminSession.id).where(AdminSession.user_id == ids["me"]))
    values = {
        "inquiry_id": inquiry_id,
        "token_id": token_id,
        "session_id": session_id,
        "public_id": "demo",
        "key_id": 1,
        "reply_id": 1,
        "question_id": 1,
        "endpoint_id": 1,
        "delivery_id": 1,
        "attachment_id": 1,
        "user_id": 1,
        "invitation_id": 1,
        "subscription_id": 1,
    }
    kept = kept_cookies(client)
    assert replay(app, kept).get("/admin").status_code == 200  # the copy works while the session lives

    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    thief = replay(app, kept)
    routes = admin_routes(app)
    assert {"admin.stream", "admin.account", "admin.logout_everywhere", "api.admin.admin_set_status"} <= {
        rule.endpoint for _, rule in routes
    }
    for method, rule in routes:
        assert set(rule.arguments) <= set(values), f"new route argument in {rule}: add it to `values`"
        path = rule.build({name: values[name] for name in rule.arguments})[1]
        # The kept session still holds a valid CSRF token: the login, not CSRF, must refuse.
        response = thief.open(
            path,
            method=method,
            headers={"X-CSRFToken": token},
            data=None
            if path.startswith("/api/")
            else {"status": "closed", "name": "x", "message_text": "x", "csrf_token": token},
            json={"status": "closed", "message_text": "x"} if path.startswith("/api/") else None,
        )
        assert refused(response), (method, path, response.status_code)
        if path.startswith("/api/") or path.endswith("/stream"):
            assert response.status_code == 401, (method, path)
    hx = thief.get(f"/admin/inquiries/{inquiry_id}", headers={"HX-Request": "true"})
    assert hx.status_code == 401 and hx.headers["HX-Redirect"].startswith("/admin/login")
    with app.app_context():
        assert db.session.get(ProductInquiry, inquiry_id).status == "pending"
        assert db.session.scalar(sa.select(sa.func.count(ProductMessage.id))) == 1
        assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 1
    assert sessions_of(app, ids["me"]) == 0


def test_the_remember_cookie_is_refused_after_logout(app, demo):
    client, token = logged_in(app, demo["admin_email"], demo["admin_password"], remember=True)
    remember = {"remember_token": client.get_cookie("remember_token").value}
    assert re.match(r"^\d+:[\w-]{20,}\|", remember["remember_token"])  # "<id>:<session key>|<signature>"
    # The remember cookie alone logs in (a browser restarted after "Keep me logged in")...
    assert replay(app, remember).get("/admin").status_code == 200
    assert replay(app, remember).get("/api/admin/inquiries").status_code == 200

    client.post("/admin/logout", data={"csrf_token": token})
    assert client.get_cookie("remember_token") is None  # the browser's copy is deleted...
    thief = replay(app, remember)  # ...and a kept one no longer works
    assert refused(thief.get("/admin"))
    assert thief.get("/api/admin/inquiries").status_code == 401
    assert thief.get("/admin/stream").status_code == 401


def test_login_starts_a_fresh_session(app, demo):
    client = app.test_client()
    login_form_token(client)
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        planted_csrf = session["csrf_token"]
    token = admin_login(client, demo["admin_email"], demo["admin_password"])
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["csrf_token"] != planted_csrf
        first_id = session["_user_id"]
    # Logging in again in the same browser replaces its session: the old one ends.
    client.post(
        "/admin/login", data={"email": demo["admin_email"], "password": demo["admin_password"], "csrf_token": token}
    )
    with client.session_transaction() as session:
        assert session["_user_id"] != first_id
    with app.app_context():
        me = db.session.scalar(sa.select(User.id))
    assert sessions_of(app, me) == 1
    assert client.get("/admin").status_code == 200


def test_login_redirects_after_post_and_keeps_next_on_this_site(app, demo):
    client = app.test_client()
    form = {
        "email": demo["admin_email"].upper() + " ",
        "password": demo["admin_password"],
        "csrf_token": login_form_token(client),
    }
    response = client.post("/admin/login?next=/admin/account", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/account"
    other = app.test_client()
    form["csrf_token"] = login_form_token(other)
    assert other.post("/admin/login?next=https://evil.example/", data=form).headers["Location"] == "/admin"


@pytest.mark.parametrize(
    "next_url",
    [
        "/%0D%0A//evil.test",
        "/%0D%0ALocation:%20https://evil.test",
        "//evil.test",
        "/\\evil.test",
        "%2F%2Fevil.test",
        "/%09/evil.test",
        "https://evil.test/admin",
        "/products/1",
    ],
)
def test_login_with_a_next_that_leaves_the_panel_goes_to_the_panel(app, demo, next_url):
    client = app.test_client()
    form = {"email": demo["admin_email"], "password": demo["admin_password"], "csrf_token": login_form_token(client)}
    response = client.post(f"/admin/login?next={next_url}", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/admin"
    assert client.get("/admin").status_code == 200  # logged in all the same


def test_the_session_table_keeps_only_a_hash_of_the_key(app, admin):
    client, _, ids = admin
    with client.session_transaction() as session:
        key = session["_user_id"].split(":", 1)[1]
    with app.app_context():
        row = db.session.scalar(sa.select(AdminSession).where(AdminSession.user_id == ids["me"]))
        assert key not in row.key_hash and len(row.key_hash) == 64


def test_log_out_everywhere_ends_every_session_of_that_admin_only(app, admin, demo):
    client, token, ids = admin
    phone, _ = logged_in(app, demo["admin_email"], demo["admin_password"], IPHONE, remember=True)
    phone_remember = {"remember_token": phone.get_cookie("remember_token").value}
    bo, _ = logged_in(app, BO_EMAIL, BO_PASSWORD)
    assert sessions_of(app, ids["me"]) == 2

    response = client.post("/admin/logout/everywhere", data={"csrf_token": token}, follow_redirects=True)
    assert "You are logged out everywhere (2 sessions ended)." in response.get_data(as_text=True)
    assert refused(client.get("/admin"))
    assert refused(phone.get("/admin"))
    assert refused(replay(app, phone_remember).get("/admin"))
    assert sessions_of(app, ids["me"]) == 0
    assert bo.get("/admin").status_code == 200  # another admin is not touched


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(app, admin, demo):
    client, token, ids = admin
    phone, _ = logged_in(app, demo["admin_email"], demo["admin_password"], IPHONE, remember=True)
    phone_remember = {"remember_token": phone.get_cookie("remember_token").value}
    new = "a-much-longer-secret"

    def change(current, new_password, confirm=None):
        return client.post(
            "/admin/account/password",
            data={
                "current_password": current,
                "new_password": new_password,
                "confirm_password": new_password if confirm is None else confirm,
                "csrf_token": token,
            },
        )

    wrong = change("not-it", new)
    assert wrong.status_code == 403 and "Your current password is not right." in wrong.get_data(as_text=True)
    short = change(demo["admin_password"], "short")
    assert short.status_code == 422 and "at least 8 characters" in short.get_data(as_text=True)
    differ = change(demo["admin_password"], new, new + "x")
    assert differ.status_code == 422 and "The two new passwords differ." in differ.get_data(as_text=True)
    assert phone.get("/admin").status_code == 200  # refused changes end nothing

    done = change(demo["admin_password"], new)
    assert done.status_code == 302 and done.headers["Location"] == "/admin/account"
    page = client.get("/admin/account").get_data(as_text=True)
    assert "Your password is changed. 1 other session was ended." in page
    assert client.get("/admin").status_code == 200
    assert refused(phone.get("/admin"))
    assert refused(replay(app, phone_remember).get("/admin"))
    assert sessions_of(app, ids["me"]) == 1
    fresh = app.test_client()
    bad = fresh.post(
        "/admin/login",
        data={"email": demo["admin_email"], "password": demo["admin_password"], "csrf_token": login_form_token(fresh)},
    )
    assert bad.status_code == 401
    admin_login(fresh, demo["admin_email"], new)


def test_account_page_lists_sessions_and_ends_one(app, admin, demo):
    other, _, _ = admin
    me, token = logged_in(app, demo["admin_email"], demo["admin_password"], FIREFOX)
    phone, _ = logged_in(app, demo["admin_email"], demo["admin_password"], IPHONE)
    bo, _ = logged_in(app, BO_EMAIL, BO_PASSWORD)
    assert 'href="/admin/account"' in me.get("/admin").get_data(as_text=True)
    page = me.get("/admin/account").get_data(as_text=True)
    rows = re.findall(r'<tr id="session-(\d+)"[^>]*>(.*?)</tr>', page, re.S)
    assert len(rows) == 3  # the fixture's, Firefox, iPhone; not Bo's
    texts = {int(i): re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for i, row in rows}
    mine = [i for i, t in texts.items() if "(this device)" in t]
    assert len(mine) == 1 and "Firefox 127 on Windows" in texts[mine[0]]
    phone_id = next(i for i, t in texts.items() if "Mobile Safari 17 on iOS" in t)
    assert re.search(r"\d\d? \w{3} \d{4} \d\d:\d\d UTC", texts[phone_id])

    ended = me.post(f"/admin/account/sessions/{phone_id}/end", data={"csrf_token": token})
    assert ended.status_code == 302 and ended.headers["Location"] == "/admin/account"
    assert refused(phone.get("/admin"))
    assert me.get("/admin").status_code == 200
    # Gone already, or someone else's: 404, and nothing ends.
    assert me.post(f"/admin/account/sessions/{phone_id}/end", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        bo_session = db.session.scalar(sa.select(AdminSession.id).join(User).where(User.email == BO_EMAIL))
    assert me.post(f"/admin/account/sessions/{bo_session}/end", data={"csrf_token": token}).status_code == 404
    assert me.post(f"/admin/account/sessions/{bo_session}/end").status_code == 400  # no CSRF token
    assert bo.get("/admin").status_code == 200
    # Ending this device's session is a logout.
    response = me.post(f"/admin/account/sessions/{mine[0]}/end", data={"csrf_token": token})
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert refused(me.get("/admin"))
    assert other.get("/admin").status_code == 200


@pytest.mark.parametrize(
    "value, status, stored",
    [
        ("Anna from support", 302, "Anna from support"),
        ("  Anna  ", 302, "Anna"),
        ("", 302, None),
        ("   ", 302, None),
        ("Zoë 🌿 <b>Shop</b>", 302, "Zoë 🌿 <b>Shop</b>"),
        ("x" * 120, 302, "x" * 120),
        ("x" * 121, 422, "unchanged"),
        ("two\nlines", 422, "unchanged"),
        ("bell\x07", 422, "unchanged"),
        ("nul\x00", 422, "unchanged"),
        ("evil\u202eoverride", 422, "unchanged"),
    ],
)
def test_public_name_is_validated(app, admin, value, status, stored):
    client, token, ids = admin
    with app.app_context():
        db.session.get(User, ids["me"]).public_name = "unchanged"
        db.session.commit()
    response = client.post("/admin/account/public-name", data={"public_name": value, "csrf_token": token})
    assert response.status_code == status, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, ids["me"]).public_name == stored
    if status == 422:
        body = response.get_data(as_text=True)
        assert 'role="alert"' in body and (
            "at most 120 characters" in body or "plain text" in body or "not valid text" in body
        )


def test_public_name_is_shown_escaped(app, admin):
    client, token, _ = admin
    client.post("/admin/account/public-name", data={"public_name": '"><script>alert(1)</script>', "csrf_token": token})
    page = client.get("/admin/account").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert "Leave it empty to answer as <strong>Demo Shop</strong>." in page


def test_deactivating_an_admin_ends_sessions_and_api_tokens(app, admin, runner, demo):
    client, token, ids = admin
    phone, _ = logged_in(app, demo["admin_email"], demo["admin_password"], remember=True)
    phone_remember = {"remember_token": phone.get_cookie("remember_token").value}
    with app.app_context():
        api_token = admin_tokens.create(db.session.get(User, ids["me"]), "sync")
    bearer = {"Authorization": f"Bearer {api_token}"}
    assert app.test_client().get("/api/admin/inquiries", headers=bearer).status_code == 200

    result = runner.invoke(args=["chat", "deactivate-admin", " Admin@Example.com "])
    assert result.exit_code == 0, result.output
    assert "Deactivated admin admin@example.com; ended 2 sessions." in result.output
    assert refused(client.get("/admin"))
    assert refused(phone.get("/admin"))
    assert refused(replay(app, phone_remember).get("/admin"))
    assert app.test_client().get("/api/admin/inquiries", headers=bearer).status_code == 401
    fresh = app.test_client()
    form = {"email": demo["admin_email"], "password": demo["admin_password"], "csrf_token": login_form_token(fresh)}
    assert fresh.post("/admin/login", data=form).status_code == 401
    assert sessions_of(app, ids["me"]) == 0
    again = runner.invoke(args=["chat", "deactivate-admin", demo["admin_email"]])
    assert again.exit_code == 0 and "Already inactive" in again.output

    result = runner.invoke(args=["chat", "activate-admin", demo["admin_email"]])
    assert result.exit_code == 0 and "Activated: admin admin@example.com can log in." in result.output
    assert fresh.post("/admin/login", data=form).status_code == 302
    assert app.test_client().get("/api/admin/inquiries", headers=bearer).status_code == 200
    assert refused(client.get("/admin"))  # ended sessions stay ended


def test_deactivate_and_activate_refuse_an_unknown_email(app, runner, demo):
    for command in ("deactivate-admin", "activate-admin"):
        result = runner.invoke(args=["chat", command, "nobody@example.com"])
        assert result.exit_code == 2 and "no admin with the email 'nobody@example.com'" in result.output


def test_create_admin_resetting_a_password_ends_that_admins_sessions(app, admin, runner, demo):
    client, _, ids = admin
    bo, _ = logged_in(app, BO_EMAIL, BO_PASSWORD)
    result = runner.invoke(args=["chat", "create-admin", demo["admin_email"], "--password", "brand-new-pass"])
    assert result.exit_code == 0 and "Updated admin admin@example.com; ended 1 session." in result.output
    assert refused(client.get("/admin"))
    assert bo.get("/admin").status_code == 200


def test_an_open_admin_stream_ends_when_its_session_ends(app, admin):
    client, token, ids = admin
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.05
    response = client.get("/admin/stream", buffered=False)
    assert response.status_code == 200
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    assert next(chunks).startswith(b"event:waiting")  # the header badge's count, caught up
    assert next(chunks).startswith(b"event:ready")
    assert next(chunks) == b": heartbeat\n\n"  # still logged in: the stream goes on
    with app.app_context():
        admin_sessions.end_all(db.session.get(User, ids["me"]))
    rest = []
    for chunk in chunks:  # the check after that heartbeat ends it
        rest.append(chunk)
        assert len(rest) < 5, rest
    response.close()
    assert rest == []


def test_last_seen_is_written_at_most_once_a_minute(app, admin):
    client, _, ids = admin

    def last_seen(value=None):
        with app.app_context():
            row = db.session.scalar(sa.select(AdminSession).where(AdminSession.user_id == ids["me"]))
            if value is not None:
                row.last_seen_at = value
                db.session.commit()
            return row.last_seen_at

    thirty_seconds_ago = last_seen(utcnow() - timedelta(seconds=30))
    client.get("/admin/account")
    assert last_seen() == thirty_seconds_ago
    two_minutes_ago = last_seen(utcnow() - timedelta(minutes=2))
    client.get("/admin/account")
    assert last_seen() - two_minutes_ago > timedelta(seconds=100)


def test_a_session_unused_for_the_idle_limit_has_ended(app, admin):
    client, _, ids = admin
    with app.app_context():
        db.session.execute(
            sa.update(AdminSession).values(
                last_seen_at=utcnow() - timedelta(days=app.config["ADMIN_SESSION_IDLE_DAYS"], minutes=1)
            )
        )
        db.session.commit()
    assert refused(client.get("/admin"))


def test_the_loader_refuses_malformed_and_borrowed_tokens(app, admin):
    client, _, ids = admin
    with client.session_transaction() as session:
        token = session["_user_id"]
    user_id, key = token.split(":")
    with app.test_request_context():
        assert admin_sessions.load(token).id == ids["me"]
        for bad in [
            "",
            user_id,
            f"{user_id}:",
            f"{user_id}:{key[:-1]}x",
            f"{ids['bo']}:{key}",
            f"x:{key}",
            f"{user_id}:{key}:extra",
            f"²:{key}",
            None,
            5,
        ]:
            assert admin_sessions.load(bad) is None, bad
