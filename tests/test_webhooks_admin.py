"""Webhook endpoints managed by the JSON API and in the panel: the secret shown once, clear
4xx for bad input, the delivery log, "Send test event" and "Redeliver"."""

import re

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import User, WebhookDelivery, WebhookEndpoint
from chat.services import admin_tokens

from .webhook_receiver import Receiver


@pytest.fixture
def app_config():
    return {"WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def api(app, demo):
    with app.app_context():
        token = admin_tokens.create(db.session.scalar(sa.select(User)), "tests")
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def wait_delivered(app, count, seconds=10):
    """Deliveries are sent right after their commit, in the background: wait for them."""
    import time

    deadline = time.monotonic() + seconds
    with app.app_context():
        while time.monotonic() < deadline:
            statuses = db.session.scalars(sa.select(WebhookDelivery.status).order_by(WebhookDelivery.id)).all()
            if len(statuses) >= count and "pending" not in statuses:
                return statuses
            db.session.rollback()
            time.sleep(0.05)
    raise AssertionError(f"not delivered: {statuses}")


def test_the_api_creates_an_endpoint_and_answers_its_secret_only_once(app, api):
    client, auth = api
    with Receiver() as receiver:
        created = client.post(
            "/api/admin/webhooks", json={"url": receiver.url, "events": ["message.created"]}, headers=auth
        )
        assert created.status_code == 201
        body = created.get_json()
        secret = body["secret"]
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
        assert body["site"] is None and body["events"] == ["message.created"] and body["enabled"] is True
        listed = client.get("/api/admin/webhooks", headers=auth).get_data(as_text=True)
        one = client.get(f"/api/admin/webhooks/{body['id']}", headers=auth).get_data(as_text=True)
        assert (
            secret not in listed
            and secret not in one
            and "secret" not in client.get(f"/api/admin/webhooks/{body['id']}", headers=auth).get_json()
        )
        # The secret from the answer verifies what is sent.
        test = client.post(f"/api/admin/webhooks/{body['id']}/test", headers=auth)
        assert test.status_code == 202 and test.get_json()["event_type"] == "webhook.test"
        [request] = receiver.wait_for(1)
        assert receiver.verified(secret, request)["data"]["endpoint_id"] == body["id"]
        wait_delivered(app, 1)
        log = client.get(f"/api/admin/webhooks/{body['id']}/deliveries", headers=auth).get_json()["deliveries"]
        assert log[0]["status"] == "delivered" and log[0]["attempt_log"][0]["status_code"] == 200
        assert log[0]["webhook_id"] == request["headers"]["webhook-id"]
        again = client.post(f"/api/admin/webhooks/{body['id']}/deliveries/{log[0]['id']}/redeliver", headers=auth)
        assert again.status_code == 202 and again.get_json()["redelivery_of"] == log[0]["id"]
        _, second = receiver.wait_for(2)
        assert second["headers"]["webhook-id"] == request["headers"]["webhook-id"]
        rotated = client.post(f"/api/admin/webhooks/{body['id']}/rotate-secret", headers=auth).get_json()
        assert rotated["secret"] != secret and rotated["previous_secret_valid_until"]
        wait_delivered(app, 2)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"events": ["message.created"]}, "url"),
        ({"url": "ftp://hooks.example/", "events": ["message.created"]}, "url"),
        ({"url": "https://hooks.example/#x", "events": ["message.created"]}, "url"),
        ({"url": "https://hooks.example/", "events": []}, "events"),
        ({"url": "https://hooks.example/", "events": ["message.deleted"]}, "events"),
        ({"url": "https://hooks.example/", "events": "message.created"}, "events"),
        ({"url": "https://hooks.example/", "events": ["message.created"], "site": "nope"}, "site"),
        ({"url": "https://hooks.example/", "events": ["message.created"], "site": 1}, "site"),
        ({"url": "https://" + "a" * 500 + ".example/", "events": ["message.created"]}, "url"),
    ],
)
def test_bad_endpoints_are_a_422_naming_the_field_and_store_nothing(app, api, body, field):
    client, auth = api
    response = client.post("/api/admin/webhooks", json=body, headers=auth)
    assert response.status_code == 422 and field in response.get_json()["fields"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(WebhookEndpoint.id))) == 0


def test_private_addresses_are_a_422_without_the_setting(app, api):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    client, auth = api
    for url in ("http://hooks.example/", "https://127.0.0.1:8443/", "https://192.168.1.10/", "https://[fd00::1]/"):
        response = client.post("/api/admin/webhooks", json={"url": url, "events": ["rating.created"]}, headers=auth)
        assert response.status_code == 422, url
    ok = client.post(
        "/api/admin/webhooks", json={"url": "https://hooks.example/", "events": ["rating.created"]}, headers=auth
    )
    assert ok.status_code == 201


def test_put_changes_what_it_names_and_enables_again_delete_removes(app, api):
    client, auth = api
    endpoint = client.post(
        "/api/admin/webhooks", json={"url": "https://hooks.example/a", "events": ["message.created"]}, headers=auth
    ).get_json()
    path = f"/api/admin/webhooks/{endpoint['id']}"
    changed = client.put(path, json={"events": ["rating.created", "inquiry.created"], "site": "demo"}, headers=auth)
    assert changed.status_code == 200
    assert changed.get_json()["events"] == ["inquiry.created", "rating.created"]
    assert changed.get_json()["site"] == "demo" and changed.get_json()["url"] == "https://hooks.example/a"
    assert client.put(path, json={"enabled": False}, headers=auth).get_json()["enabled"] is False
    assert client.put(path, json={"enabled": True}, headers=auth).get_json()["enabled"] is True
    assert client.put(path, json={"enabled": "yes"}, headers=auth).status_code == 422
    assert (
        client.put(path, json={"url": "https://hooks.example/b", "site": None}, headers=auth).get_json()["site"] is None
    )
    assert client.delete(path, headers=auth).status_code == 204
    assert client.get(path, headers=auth).status_code == 404
    assert client.put(path, json={"enabled": True}, headers=auth).status_code == 404
    assert client.post(f"{path}/test", headers=auth).status_code == 404


def test_the_webhooks_api_is_for_admins_only(app, api):
    client, _ = api
    assert client.get("/api/admin/webhooks").status_code == 401
    assert (
        client.post("/api/admin/webhooks", json={"url": "https://hooks.example/", "events": ["x"]}).status_code == 401
    )
    assert client.get("/api/admin/webhooks", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_redelivery_of_another_endpoints_delivery_is_a_404(app, api):
    client, auth = api
    one = client.post(
        "/api/admin/webhooks", json={"url": "https://hooks.example/1", "events": ["message.created"]}, headers=auth
    )
    two = client.post(
        "/api/admin/webhooks", json={"url": "https://hooks.example/2", "events": ["message.created"]}, headers=auth
    )
    app.config["WEBHOOK_DELIVER_AT_ONCE"] = False
    delivery = client.post(f"/api/admin/webhooks/{one.get_json()['id']}/test", headers=auth).get_json()
    response = client.post(
        f"/api/admin/webhooks/{two.get_json()['id']}/deliveries/{delivery['id']}/redeliver", headers=auth
    )
    assert response.status_code == 404


# -- the panel ---------------------------------------------------------------------------


def csrf_of(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_panel_adds_an_endpoint_shows_the_secret_once_and_its_buttons_work(app, admin):
    client, token, _ = admin
    with Receiver() as receiver:
        page = client.get("/admin/webhooks")
        assert page.status_code == 200 and "No endpoints yet." in page.get_data(as_text=True)
        created = client.post(
            "/admin/webhooks",
            data={
                "url": receiver.url,
                "events": ["message.created", "inquiry.created"],
                "site": "",
                "csrf_token": token,
            },
        )
        assert created.status_code == 303
        shown = client.get(created.headers["Location"])
        assert shown.headers["Cache-Control"] == "no-store"
        html = shown.get_data(as_text=True)
        secret = re.search(r'<code id="new-secret">(whsec_[^<]+)</code>', html).group(1)
        assert secret not in client.get(created.headers["Location"]).get_data(as_text=True)  # once
        endpoint_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])

        # "Send test event": a signed webhook.test that the library verifies, then in the log.
        tested = client.post(f"/admin/webhooks/{endpoint_id}/test", data={"csrf_token": token})
        assert tested.status_code == 303
        [request] = receiver.wait_for(1)
        assert receiver.verified(secret, request)["type"] == "webhook.test"
        wait_delivered(app, 1)
        log = client.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)
        assert "Delivered" in log and request["headers"]["webhook-id"] in log and "webhook.test" in log

        # "Redeliver": the same id and body again.
        with app.app_context():
            delivery_id = db.session.scalar(sa.select(WebhookDelivery.id))
        again = client.post(
            f"/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", data={"csrf_token": token}
        )
        assert again.status_code == 303
        _, second = receiver.wait_for(2)
        assert second["headers"]["webhook-id"] == request["headers"]["webhook-id"] and second["body"] == request["body"]
        wait_delivered(app, 2)
        assert "Sends delivery" in client.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)

        # Rotation needs the box ticked; then a new secret is shown once.
        client.post(f"/admin/webhooks/{endpoint_id}/rotate-secret", data={"csrf_token": token})
        with app.app_context():
            assert db.session.get(WebhookEndpoint, endpoint_id).previous_secret is None
        rotated = client.post(
            f"/admin/webhooks/{endpoint_id}/rotate-secret", data={"csrf_token": token, "confirm": "rotate"}
        )
        new = re.search(
            r'<code id="new-secret">(whsec_[^<]+)</code>',
            client.get(rotated.headers["Location"]).get_data(as_text=True),
        )
        assert new and new.group(1) != secret
        assert "signs too until" in client.get(f"/admin/webhooks/{endpoint_id}").get_data(as_text=True)


def test_the_panels_forms_show_field_errors_escape_urls_and_need_csrf(app, admin):
    client, token, _ = admin
    bad = client.post("/admin/webhooks", data={"url": "javascript:alert(1)", "csrf_token": token})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="webhook-url-error"' in html and 'id="webhook-events-error"' in html
    assert (
        client.post(
            "/admin/webhooks", data={"url": "https://hooks.example/", "events": ["message.created"]}
        ).status_code
        == 400
    )
    created = client.post(
        "/admin/webhooks",
        data={"url": 'https://hooks.example/"><script>x</script>', "events": ["message.created"], "csrf_token": token},
    )
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    endpoint_id = int(created.headers["Location"].rsplit("/", 1)[1])
    off = client.post(f"/admin/webhooks/{endpoint_id}/enabled", data={"enabled": "false", "csrf_token": token})
    assert off.status_code == 303 and "Disabled" in client.get(off.headers["Location"]).get_data(as_text=True)
    edited = client.post(
        f"/admin/webhooks/{endpoint_id}", data={"url": "https://hooks.example/new", "events": [], "csrf_token": token}
    )
    assert edited.status_code == 422 and "Choose at least one event" in edited.get_data(as_text=True)
    removed = client.post(f"/admin/webhooks/{endpoint_id}/delete", data={"csrf_token": token})
    assert removed.status_code == 303 and client.get(f"/admin/webhooks/{endpoint_id}").status_code == 404
