"""Redis is optional at run time: the database is the truth, Redis only makes things live.

A real server (gunicorn + gevent, production settings, rate limits on and kept
in Redis) with a redis-server of the test's own, which the test kills and starts again.
"""

import re
import time
import uuid

import pytest
import redis
import requests

from .live_server import LiveServer, demo_admin_password, demo_admin_token, prepared_env
from .redis_server import RedisServer
from .sse_client import SSEClient, message_ids

pytestmark = pytest.mark.skipif(not RedisServer.available(), reason="redis-server is not installed")


@pytest.fixture
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture
def server(tmp_path, redis_server):
    env = prepared_env(
        tmp_path,
        f"sqlite:///{tmp_path}/chat.sqlite",
        redis_url=redis_server.url,
        RATELIMIT_ENABLED="true",
        SSE_HEARTBEAT_SECONDS="1",
        LIVE_STATS_ENABLED="true",
        LIVE_CHANNEL_PREFIX=f"chat-redis-down-{uuid.uuid4().hex[:8]}:",
    )
    token = demo_admin_token(env)
    with LiveServer(env) as live:
        live.admin_auth = {"Authorization": f"Bearer {token}"}
        live.password = demo_admin_password(env)
        yield live


def api_send(server, text, token=None):
    headers = {"X-Chat-Session": token} if token else {}
    return requests.post(
        f"{server.url}/api/products/1/messages",
        headers=headers,
        timeout=10,
        json={"message_text": text, "client_message_id": str(uuid.uuid4())},
    )


def widget_send(server, text, token):
    return requests.post(
        f"{server.url}/embed/demo/products/1/messages",
        timeout=10,
        headers={"X-Chat-Session": token, "HX-Request": "true"},
        data={"message_text": text, "client_message_id": str(uuid.uuid4())},
    )


def open_stream(server, token, after):
    ticket = requests.post(
        f"{server.url}/embed/demo/stream-ticket", headers={"X-Chat-Session": token}, timeout=10
    ).json()["ticket"]
    stream = SSEClient(f"{server.url}/embed/demo/stream?product=1&after={after}&ticket={ticket}")
    stream.collect(lambda got: got and got[-1].type == "ready")
    return stream


def stored_texts(server, token):
    body = requests.get(
        f"{server.url}/api/products/1/messages?limit=100", headers={"X-Chat-Session": token}, timeout=10
    ).json()
    return [m["message_text"] for m in body["messages"]]


def test_sends_are_stored_while_redis_is_down_and_live_delivery_comes_back(server, redis_server):
    first = api_send(server, "before the outage")
    assert first.status_code == 201
    token, first_id = first.headers["X-Chat-Session"], first.json()["id"]
    inquiry_id = first.json()["inquiry_id"]
    stream = open_stream(server, token, after=first_id)

    redis_server.stop()

    by_api = api_send(server, "through the API, Redis down", token)
    assert by_api.status_code == 201, by_api.text
    by_widget = widget_send(server, "through the widget, Redis down", token)
    assert by_widget.status_code == 201, by_widget.text
    assert "through the widget, Redis down" in by_widget.text
    answer = requests.post(
        f"{server.url}/api/admin/inquiries/{inquiry_id}/respond",
        headers=server.admin_auth,
        json={"message_text": "the shop answers, Redis down"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    # An admin can log in too (the login limits fall back to memory as well).
    admin = requests.Session()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', admin.get(f"{server.url}/admin/login").text).group(1)
    login = admin.post(
        f"{server.url}/admin/login",
        allow_redirects=False,
        timeout=10,
        data={"email": "admin@example.com", "password": server.password, "csrf_token": csrf},
    )
    assert login.status_code == 302
    page = admin.get(f"{server.url}/admin/inquiries/{inquiry_id}").text
    assert "through the widget, Redis down" in page
    # ... and answer from the inquiry page (the HTMX form).
    token_in_page = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    by_page = admin.post(
        f"{server.url}/admin/inquiries/{inquiry_id}/messages",
        timeout=10,
        headers={"X-CSRFToken": token_in_page, "HX-Request": "true"},
        data={"message_text": "answered from the page, Redis down", "client_message_id": str(uuid.uuid4())},
    )
    assert by_page.status_code == 201 and "answered from the page, Redis down" in by_page.text

    assert stored_texts(server, token) == [
        "before the outage",
        "through the API, Redis down",
        "through the widget, Redis down",
        "the shop answers, Redis down",
        "answered from the page, Redis down",
    ]

    redis_server.start()  # same port: the server finds it again by itself

    # The open stream catches up from the database, then is live again.
    during = [by_api.json()["id"], answer.json()["id"]]
    caught_up = stream.collect(lambda got: set(during) <= set(message_ids(got)), timeout=20)
    after_restart = api_send(server, "after the outage", token)
    assert after_restart.status_code == 201
    got = caught_up + stream.collect(lambda got: after_restart.json()["id"] in message_ids(got), timeout=20)
    ids = message_ids(got)
    assert len(ids) == len(set(ids)), "a message was delivered twice"
    assert {by_api.json()["id"], answer.json()["id"], after_restart.json()["id"]} <= set(ids)
    stream.close()

    # The limits are shared through Redis again (it checks back with growing pauses).
    fresh_redis = redis.Redis.from_url(redis_server.url)
    for attempt in range(20):
        assert api_send(server, f"limits back? {attempt}", token).status_code == 201
        if any(fresh_redis.scan_iter("LIMITS*")):
            break
        time.sleep(1)
    assert any(fresh_redis.scan_iter("LIMITS*")), "the rate limits never went back to Redis"
