"""The audit log: one entry per security-relevant action, never a secret, no route changes it."""

import re
from datetime import timedelta

import sqlalchemy as sa

from chat.extensions import db
from chat.models import AuditEntry, User, utcnow
from chat.services import admin_tokens, audit

from .chat_helpers import admin_login, login_form_token, make_inquiry
from .test_access_matrix import _call, _url, _world, admin_routes

PASSWORD = "audit-password-1"


def _entries(app):
    with app.app_context():
        return [
            (e.action, e.actor_kind, e.actor_label, e.object_type, e.object_id, e.detail, e.ip, e.user_agent)
            for e in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
        ]


def _actions(app):
    return [e[0] for e in _entries(app)]


def _new(app, before):
    return _actions(app)[len(before) :]


def test_every_audited_action_writes_one_entry_without_secrets(app, demo):
    client = app.test_client()
    form_token = login_form_token(client)
    start = _actions(app)  # the demo site's creation (site.created, site_key.created)
    assert (
        client.post(
            "/admin/login", data={"email": demo["admin_email"], "password": "wrong-guess-123", "csrf_token": form_token}
        ).status_code
        == 401
    )
    assert _new(app, start) == ["login.failed"]
    csrf = admin_login(client, demo["admin_email"], demo["admin_password"])
    headers = {"X-CSRFToken": csrf, "User-Agent": "AuditTest/1.0"}
    secrets_seen = [demo["admin_password"], "wrong-guess-123"]

    def did(action, response, *expected):
        before = _actions(app)
        result = response()
        assert result.status_code < 400, (action, result.status_code, result.get_data(as_text=True)[:300])
        assert _new(app, before) == list(expected or (action,)), action
        return result

    did("login", lambda: app.test_client().post("/admin/login", data={}) and _relogin(app, demo))
    made = did("token.created", lambda: client.post("/admin/tokens", data={"name": "ops"}, headers=headers))
    token = re.search(r'id="new-token">([^<]+)<', made.get_data(as_text=True)).group(1)
    secrets_seen.append(token)
    with app.app_context():
        token_id = db.session.scalar(sa.select(sa.func.max(admin_tokens.ApiToken.id)))
    did("token.revoked", lambda: client.post(f"/admin/tokens/{token_id}/revoke", headers=headers))
    did("identity_secret.shown", lambda: client.get("/admin/sites/demo"))
    did(
        "site.changed",
        lambda: client.post(
            "/admin/sites/demo", data={"name": "Demo", "origins": "https://shop.example"}, headers=headers
        ),
    )
    did("site_key.created", lambda: client.post("/admin/sites/demo/keys", data={"name": "sync"}, headers=headers))
    did(
        "identity_secret.rotated",
        lambda: client.post("/admin/sites/demo/identity-secret", data={"confirm": "rotate"}, headers=headers),
    )
    with app.app_context():
        from chat.services import sites

        site = sites.demo_site()
        secrets_seen.append(site.identity_secret)
        key_id = sites.keys_of(site)[-1].id
    did("site_key.revoked", lambda: client.post(f"/admin/sites/demo/keys/{key_id}/revoke", headers=headers))
    did(
        "hours.changed",
        lambda: client.put(
            "/api/admin/sites/demo/hours", json={"timezone": "Europe/Berlin", "hours": None}, headers=headers
        ),
    )
    hook = did(
        "webhook.created",
        lambda: client.post(
            "/api/admin/webhooks",
            json={"url": "https://hooks.example/x", "events": ["message.created"], "site": None},
            headers=headers,
        ),
    )
    secrets_seen.append(hook.get_json()["secret"])
    hook_id = hook.get_json()["id"]
    did(
        "webhook.changed",
        lambda: client.put(f"/api/admin/webhooks/{hook_id}", json={"url": "https://hooks.example/y"}, headers=headers),
    )
    rotated = did(
        "webhook.secret_rotated", lambda: client.post(f"/api/admin/webhooks/{hook_id}/rotate-secret", headers=headers)
    )
    secrets_seen.append(rotated.get_json()["secret"])
    did("webhook.deleted", lambda: client.delete(f"/api/admin/webhooks/{hook_id}", headers=headers))
    invited = did(
        "person.invited",
        lambda: client.post(
            "/api/admin/invitations",
            json={"email": "new@shop.example", "role": "agent", "sites": ["demo"]},
            headers=headers,
        ),
    )
    secrets_seen.append(invited.get_json()["url"].rsplit("/", 1)[1])
    with app.app_context():
        agent = User(email="agent@shop.example", name="Agent", role="agent")
        agent.set_password(PASSWORD)
        db.session.add(agent)
        db.session.commit()
        agent_id = agent.id
    did(
        "person.changed",
        lambda: client.put(f"/api/admin/people/{agent_id}", json={"role": "agent", "sites": ["demo"]}, headers=headers),
    )
    did("person.deactivated", lambda: client.post(f"/admin/people/{agent_id}/deactivate", headers=headers))
    inquiry_id = make_inquiry(app, 1, "my secret order number is 4242")
    secrets_seen.append("4242")
    did(
        "customer.exported", lambda: client.get(f"/api/admin/customers/export?inquiry_id={inquiry_id}", headers=headers)
    )
    did(
        "customer.sessions_ended",
        lambda: client.post("/api/admin/customers/revoke-sessions", json={"inquiry_id": inquiry_id}, headers=headers),
    )
    did(
        "customer.erased",
        lambda: client.post("/api/admin/customers/erase", json={"inquiry_id": inquiry_id}, headers=headers),
    )
    did("sessions.ended", lambda: client.post("/admin/logout/everywhere", headers=headers))

    entries = _entries(app)
    text = repr(entries)
    for secret in secrets_seen:
        assert secret not in text
    # Who and from where: the person, their IP and browser.
    person = [e for e in entries if e[0] == "site.changed"][0]
    assert person[1:3] == ("person", demo["admin_email"]) and person[6] == "127.0.0.1" and person[7] == "AuditTest/1.0"
    failed = entries[len(start)]
    assert failed[:3] == ("login.failed", "anonymous", demo["admin_email"])


def _relogin(app, demo):
    client = app.test_client()
    admin_login(client, demo["admin_email"], demo["admin_password"])

    class Ok:
        status_code = 200

        @staticmethod
        def get_data(as_text=False):
            return ""

    return Ok()


def test_a_token_and_the_command_line_are_named_as_who(app, demo, runner):
    with app.app_context():
        owner = db.session.scalar(sa.select(User).where(User.email == demo["admin_email"]))
        token = admin_tokens.create(owner, "nightly")
    client = app.test_client()
    assert (
        client.post(
            "/api/admin/invitations",
            json={"email": "t@shop.example", "role": "agent", "sites": None},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 201
    )
    assert runner.invoke(args=["chat", "invite", "c@shop.example", "--site", "demo"]).exit_code == 0
    invited = [e for e in _entries(app) if e[0] == "person.invited"]
    assert [e[1:3] for e in invited] == [
        ("token", f"token 'nightly' of {demo['admin_email']}"),
        ("cli", "command line"),
    ]


def test_the_audit_page_filters_and_its_csv_cannot_run_formulas(app, demo):
    client = app.test_client()
    form_token = login_form_token(client)
    client.post("/admin/login", data={"email": "=1+1@evil.example", "password": "x", "csrf_token": form_token})
    admin_login(client, demo["admin_email"], demo["admin_password"])
    page = client.get("/admin/audit?action=login.failed").get_data(as_text=True)
    assert "=1+1@evil.example" in page and "<code>login</code>" not in page
    csv_text = client.get("/admin/audit.csv?action=login.failed").get_data(as_text=True)
    assert '"\'=1+1@evil.example"' in csv_text
    api = client.get("/api/admin/audit?person=evil").get_json()
    assert [e["action"] for e in api["entries"]] == ["login.failed"]
    assert client.get("/admin/audit?from=yesterday").status_code == 422


def test_no_route_changes_or_deletes_an_entry(app, demo):
    """Every admin route, called by an owner of every site on objects of both sites: the entries
    written before are all still there, unchanged (new ones may be added)."""
    world = _world(app)
    with app.app_context():
        owner = db.session.scalar(sa.select(User).where(User.email == demo["admin_email"]))
        for i in range(3):
            audit.record("purge", "test", i, f"entry {i}")
        db.session.commit()
        token = admin_tokens.create(owner, "sweep")
    before = _entries(app)
    client = app.test_client()
    csrf = admin_login(client, demo["admin_email"], demo["admin_password"])
    for public_id in ("demo", "other"):
        for rule in admin_routes(app):
            if rule.endpoint in ("admin.logout", "admin.logout_everywhere"):
                continue
            _call(client, csrf, token, rule, _url(rule, world, world[public_id]))
    after = _entries(app)
    assert after[: len(before)] == before
    # And nothing in the URL map names the log with a method that could change it.
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods - {"GET", "HEAD", "OPTIONS"} == set(), rule


def test_purge_keeps_the_log_for_its_retention_days(app, runner):
    with app.app_context():
        old = AuditEntry(
            action="login", actor_kind="person", actor_label="a", created_at=utcnow() - timedelta(days=401)
        )
        recent = AuditEntry(
            action="login", actor_kind="person", actor_label="b", created_at=utcnow() - timedelta(days=399)
        )
        db.session.add_all([old, recent])
        db.session.commit()
    out = runner.invoke(args=["chat", "purge"])
    assert out.exit_code == 0, out.output
    assert "Purged 1 audit log entries older than 400 days." in out.output
    labels = [e[2] for e in _entries(app)]
    assert "a" not in labels and "b" in labels and _actions(app)[-1] == "purge"
