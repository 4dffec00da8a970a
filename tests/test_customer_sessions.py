"""Customer session tokens carry their issue time: they expire, renew and can be revoked."""

import time

import pytest
from itsdangerous import URLSafeSerializer

from chat import identity
from chat.services import privacy, shoppers

from .chat_helpers import first_product_id

DAY_MS = 86_400_000


def _send(client, pid, text, token=None):
    headers = {"X-Chat-Session": token} if token else {}
    return client.post(f"/api/products/{pid}/messages", json={"message_text": text}, headers=headers)


def _history(client, pid, token):
    body = client.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": token}).get_json()
    return [m["message_text"] for m in body["messages"]]


def _session_of(app, token):
    with app.test_request_context():
        return identity.read(token)[0]


def test_a_token_older_than_the_session_lifetime_is_refused(app, client, demo):
    pid = first_product_id(app)
    token = _send(client, pid, "hello").headers["X-Chat-Session"]
    session_id = _session_of(app, token)
    with app.test_request_context():
        days = app.config["CHAT_SESSION_DAYS"]
        almost = identity.sign(session_id, issued_ms=int(time.time() * 1000) - (days - 1) * DAY_MS)
        too_old = identity.sign(session_id, issued_ms=int(time.time() * 1000) - (days + 1) * DAY_MS)
    assert _history(client, pid, almost) == ["hello"]
    assert _history(client, pid, too_old) == []  # a stranger: no conversation


def test_an_active_token_is_renewed(app, client, demo):
    pid = first_product_id(app)
    token = _send(client, pid, "hello").headers["X-Chat-Session"]
    session_id = _session_of(app, token)
    with app.test_request_context():
        two_days_old = identity.sign(session_id, issued_ms=int(time.time() * 1000) - 2 * DAY_MS)
    response = client.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": two_days_old})
    fresh = response.headers["X-Chat-Session"]
    with app.test_request_context():
        renewed_session, issued, _ = identity.read(fresh)
    assert renewed_session == session_id and time.time() * 1000 - issued < 60_000
    # A fresh token is not renewed on every request.
    assert (
        "X-Chat-Session" not in client.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": fresh}).headers
    )


def test_a_token_without_issue_time_is_refused(app, client, demo):
    pid = first_product_id(app)
    token = _send(client, pid, "hello").headers["X-Chat-Session"]
    session_id = _session_of(app, token)
    with app.test_request_context():
        # The old format: the bare session id, signed; it could never expire.
        legacy = URLSafeSerializer(app.config["SECRET_KEY"], salt="chat-session").dumps(session_id)
        legacy_v2_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="chat-session-v2").dumps(session_id)
    assert _history(client, pid, legacy) == [] and _history(client, pid, legacy_v2_salt) == []


def test_an_admin_can_revoke_one_customers_sessions(app, client, demo):
    pid = first_product_id(app)
    mine = _send(client, pid, "mine").headers["X-Chat-Session"]
    other = _send(app.test_client(), pid, "someone else").headers["X-Chat-Session"]
    inquiry_id = client.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": mine}).get_json()["inquiry"][
        "id"
    ]
    with app.app_context():
        shoppers.revoke(privacy.find_customer(inquiry_id=inquiry_id).sessions)
    assert _history(client, pid, mine) == []
    assert _history(client, pid, other) == ["someone else"]
    # The refused browser gets a new session and can start again.
    again = _send(client, pid, "new start", token=mine)
    assert again.status_code == 201 and again.headers["X-Chat-Session"] != mine


@pytest.mark.parametrize("token", ["", "x" * 500, "not.a.token", "²", "\u00e9t\u00e9"])
def test_malformed_tokens_are_a_stranger_not_an_error(app, client, demo, token):
    pid = first_product_id(app)
    response = client.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": token})
    assert response.status_code == 200 and response.get_json()["messages"] == []
