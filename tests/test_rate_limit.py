"""Flask-Limiter stops floods of messages and login attempts."""
import re

import pytest

from chat.models import ProductMessage

from .chat_helpers import count, csrf_token, first_product_id, send_html


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


def test_password_guessing_is_slowed_down(client, app, demo):
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": "admin@example.com", "password": "guess", "csrf_token": token}
    statuses = [client.post("/admin/login", data=form).status_code for _ in range(12)]
    assert statuses == [401] * 10 + [429, 429]
