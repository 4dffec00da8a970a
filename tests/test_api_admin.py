"""The seed's admin endpoints (and priority, assignment) as JSON."""

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import ProductInquiry, ProductMessage, User
from chat.services import admin_tokens

from .chat_helpers import admin_login, first_product_id, make_inquiry


@pytest.fixture
def api(app, demo):
    """An anonymous client plus a bearer token for the demo admin."""
    with app.app_context():
        admin = db.session.scalar(sa.select(User))
        token = admin_tokens.create(admin, "tests")
        admin_id = admin.id
    return app.test_client(), {"Authorization": f"Bearer {token}"}, admin_id


def test_list_defaults_to_pending_and_validates_status(app, api):
    client, auth, _ = api
    pid = first_product_id(app)
    pending = make_inquiry(app, pid, "pending one")
    closed = make_inquiry(app, pid, "closed one")
    client.put(f"/api/admin/inquiries/{closed}/status", json={"status": "closed"}, headers=auth)
    body = client.get("/api/admin/inquiries", headers=auth).get_json()
    assert [i["id"] for i in body["inquiries"]] == [pending]
    row = body["inquiries"][0]
    assert row["product_name"] == "Trailhead 35L Hiking Backpack" and row["message_count"] == 1
    assert row["unread_count"] == 1 and row["last_message"]["message_text"] == "pending one"
    assert row["status"] == "pending" and row["waiting_since"].endswith("Z")
    closed_list = client.get("/api/admin/inquiries?status=closed", headers=auth).get_json()["inquiries"]
    assert [i["id"] for i in closed_list] == [closed]
    bad = client.get("/api/admin/inquiries?status=done", headers=auth)
    assert bad.status_code == 400
    assert bad.get_json()["error"] == (
        "Unknown status 'done'; use one of: waiting, pending, in_progress, resolved, closed, all."
    )


def test_respond_stores_the_answer_as_the_caller(app, api):
    client, auth, admin_id = api
    inquiry_id = make_inquiry(app, first_product_id(app), "question")
    response = client.post(f"/api/admin/inquiries/{inquiry_id}/respond", json={"message_text": "answer"}, headers=auth)
    assert response.status_code == 201
    body = response.get_json()
    assert body["sender_type"] == "admin" and body["sender_id"] == admin_id and body["message_text"] == "answer"
    detail = client.get(f"/api/admin/inquiries/{inquiry_id}", headers=auth).get_json()
    assert [m["message_text"] for m in detail["messages"]] == ["question", "answer", "Marked in progress by Demo Admin"]
    assert detail["inquiry"]["status"] == "in_progress"
    other = client.post(
        f"/api/admin/inquiries/{inquiry_id}/respond",
        json={"message_text": "as someone else", "admin_id": admin_id + 100},
        headers=auth,
    )
    assert other.status_code == 422 and "admin_id" in other.get_json()["fields"]


@pytest.mark.parametrize(
    "path, body, status, field",
    [
        ("respond", {}, 422, "message_text"),
        ("respond", {"message_text": ""}, 422, "message_text"),
        ("respond", {"message_text": 5}, 422, "message_text"),
        ("respond", {"message_text": "x" * 2001}, 422, "message_text"),
        ("status", {}, 422, "status"),
        ("status", {"status": "done"}, 400, "status"),
        ("status", {"status": 3}, 422, "status"),
        ("priority", {"priority": "urgent"}, 400, "priority"),
        ("assignee", {"admin_id": "abc"}, 422, "admin_id"),
        ("assignee", {"admin_id": 424242}, 422, "admin_id"),
    ],
)
def test_bad_bodies_change_nothing(app, api, path, body, status, field):
    client, auth, _ = api
    inquiry_id = make_inquiry(app, first_product_id(app), "question")
    method = client.post if path == "respond" else client.put
    response = method(f"/api/admin/inquiries/{inquiry_id}/{path}", json=body, headers=auth)
    assert response.status_code == status
    assert field in response.get_json()["fields"]
    with app.app_context():
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        assert (inquiry.status, inquiry.priority, inquiry.assigned_admin_id) == ("pending", "medium", None)
        assert db.session.scalar(sa.select(sa.func.count(ProductMessage.id))) == 1


def test_malformed_json_and_unknown_inquiry(app, api):
    client, auth, _ = api
    inquiry_id = make_inquiry(app, first_product_id(app), "question")
    assert (
        client.put(
            f"/api/admin/inquiries/{inquiry_id}/status", data="{", content_type="application/json", headers=auth
        ).status_code
        == 400
    )
    assert client.put("/api/admin/inquiries/999999/status", json={"status": "closed"}, headers=auth).status_code == 404


def test_priority_and_assignment(app, api):
    client, auth, admin_id = api
    inquiry_id = make_inquiry(app, first_product_id(app), "question")
    high = client.put(f"/api/admin/inquiries/{inquiry_id}/priority", json={"priority": "high"}, headers=auth)
    assert high.status_code == 200 and high.get_json()["priority"] == "high"
    mine = client.put(f"/api/admin/inquiries/{inquiry_id}/assignee", json={"admin_id": admin_id}, headers=auth)
    assert mine.get_json()["assigned_admin_id"] == admin_id and mine.get_json()["assigned_admin_name"] == "Demo Admin"
    nobody = client.put(f"/api/admin/inquiries/{inquiry_id}/assignee", json={"admin_id": None}, headers=auth)
    assert nobody.get_json()["assigned_admin_id"] is None


def test_session_login_works_for_the_api_with_csrf(app, demo):
    client = app.test_client()
    token = admin_login(client, demo["admin_email"], demo["admin_password"])
    inquiry_id = make_inquiry(app, first_product_id(app), "question")
    assert client.get("/api/admin/inquiries").status_code == 200
    assert client.put(f"/api/admin/inquiries/{inquiry_id}/status", json={"status": "resolved"}).status_code == 400
    ok = client.put(
        f"/api/admin/inquiries/{inquiry_id}/status", json={"status": "resolved"}, headers={"X-CSRFToken": token}
    )
    assert ok.status_code == 200 and ok.get_json()["status"] == "resolved"
