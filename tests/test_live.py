"""Live delivery over real HTTP from a running gunicorn + gevent server."""

import json
import os
import subprocess
import time
import urllib.request
import uuid

import pytest

from . import backends
from .live_server import BIN, ROOT, LiveServer, free_port, prepared_env
from .sse_client import SSEClient, message_ids


def api_send(server, text, token=None, client_id=None):
    body = {"message_text": text, "sender_type": "customer"}
    if client_id:
        body["client_message_id"] = client_id
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Chat-Session"] = token
    request = urllib.request.Request(
        server.url + "/api/products/1/messages", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response), response.headers["X-Chat-Session"]


def stream_ticket(server, token, site="demo"):
    """What the widget does before every (re)connect: trade its header for a single-use ticket."""
    request = urllib.request.Request(
        f"{server.url}/embed/{site}/stream-ticket", data=b"", method="POST", headers={"X-Chat-Session": token}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["ticket"]


def stream(server, token, after=None, last_event_id=None, product_id=1):
    url = f"{server.url}/embed/demo/stream?product={product_id}&ticket={stream_ticket(server, token)}"
    if after is not None:
        url += f"&after={after}"
    headers = {}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    return SSEClient(url, headers)


def stats(server):
    with urllib.request.urlopen(server.url + "/live/stats", timeout=5) as response:
        return json.load(response)


def wait_for(predicate, timeout=10, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def ready(client):
    return client.collect(lambda got: got and got[-1].type == "ready", timeout=10)


@pytest.fixture(scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def live_server(request, tmp_path_factory):
    """One server per broker for this module; every test uses sessions of its own."""
    tmp_path = tmp_path_factory.mktemp("live")
    redis_url = None
    if request.param == "redis":
        backends.require("redis")
        redis_url = backends.REDIS_URL
    env = prepared_env(
        tmp_path,
        f"sqlite:///{tmp_path}/live.sqlite",
        redis_url=redis_url,
        LIVE_STATS_ENABLED="true",
        SSE_HEARTBEAT_SECONDS="1",
        LIVE_CHANNEL_PREFIX=f"chat-test-{uuid.uuid4().hex[:8]}:",
    )
    with LiveServer(env) as server:
        server.broker = request.param
        yield server


def test_stream_headers_and_retry_hint(live_server):
    _, token = api_send(live_server, "hello")
    client = stream(live_server, token, after=0)
    try:
        assert client.status == 200
        assert client.headers["Content-Type"].startswith("text/event-stream")
        assert client.headers["Cache-Control"] == "no-cache"
        assert client.headers["X-Accel-Buffering"] == "no"
        events = ready(client)
        assert [e.type for e in events] == ["message", "ready"]
        assert 'class="text" dir="auto">hello</p>' in events[0].data
    finally:
        client.close()


def test_no_session_no_ticket_means_no_stream(live_server):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as no_session:
        stream_ticket(live_server, "")
    assert no_session.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as no_ticket:
        urllib.request.urlopen(live_server.url + "/embed/demo/stream?product=1", timeout=5)
    assert no_ticket.value.code == 403


def test_a_message_reaches_its_own_stream_and_never_another_sessions(live_server):
    first_a, token_a = api_send(live_server, "a1")
    first_b, token_b = api_send(live_server, "b1")
    stream_a = stream(live_server, token_a, after=first_a["id"])
    stream_b = stream(live_server, token_b, after=first_b["id"])
    try:
        ready(stream_a), ready(stream_b)
        sent, _ = api_send(live_server, "<b>a2</b>", token_a)
        got = stream_a.collect(lambda got: any(e.type == "message" for e in got))
        assert message_ids(got) == [sent["id"]]
        assert "&lt;b&gt;a2&lt;/b&gt;" in got[0].data and "<b>a2" not in got[0].data
        if live_server.broker == "redis":
            # The shop answers from another process: it arrives through Redis.
            subprocess.run(
                [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "reply", str(sent["inquiry_id"]), "answer for a"],
                env=live_server.env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            got = stream_a.collect(lambda got: any(e.type == "unread" for e in got))
            assert [e.type for e in got] == ["message", "typing", "unread"]
            assert "answer for a" in got[0].data and got[2].data == "1"
            # Delivered: the customer's stream received it.
            assert wait_for(lambda: _state(live_server, token_a, got[0].id) == "delivered")
        # B hears nothing of A, even across heartbeats.
        time.sleep(1.5)
        assert stream_b.events.empty()
        assert not stream_b.comments.empty()  # it was alive: heartbeats came
    finally:
        stream_a.close()
        stream_b.close()


def _state(server, token, message_id):
    """Read the mark straight from the server's database (an API read would itself deliver)."""
    import sqlite3

    path = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        is_read, delivered_at = conn.execute(
            "select is_read, delivered_at from product_messages where id = ?", (int(message_id),)
        ).fetchone()
    return "read" if is_read else ("delivered" if delivered_at else "sent")


@pytest.mark.parametrize("how", ["last-event-id", "after", "both"])
def test_reconnect_replays_exactly_the_missed_messages_once_in_order(live_server, how):
    first, token = api_send(live_server, "m1")
    client = stream(live_server, token, after=first["id"])
    ready(client)
    client.close()
    missed = [api_send(live_server, f"missed {i}", token)[0]["id"] for i in range(3)]
    kwargs = {
        "last-event-id": {"last_event_id": first["id"]},
        "after": {"after": first["id"]},
        "both": {"after": 0, "last_event_id": first["id"]},
    }[how]
    again = stream(live_server, token, **kwargs)
    try:
        events = ready(again)
        assert message_ids(events) == missed
        live, _ = api_send(live_server, "live one", token)
        more = again.collect(lambda got: any(e.type == "message" for e in got))
        assert message_ids(more) == [live["id"]]
        time.sleep(0.5)
        assert again.events.empty()
    finally:
        again.close()


def test_heartbeat_on_an_idle_stream_and_a_closed_client_is_cleaned_up(live_server):
    # Streams of earlier tests go once their next heartbeat finds them closed.
    assert wait_for(lambda: stats(live_server)["streams"] == 0, timeout=10)
    first, token = api_send(live_server, "idle")
    client = stream(live_server, token, after=first["id"])
    ready(client)
    assert client.comments.get(timeout=5) == ": heartbeat"
    assert stats(live_server)["streams"] == 1 and stats(live_server)["subscriptions"] == 1
    client.close()
    assert wait_for(lambda: stats(live_server)["streams"] == 0, timeout=10)
    assert stats(live_server)["subscriptions"] == 0


def test_idle_streams_beat_on_time_without_a_timer_each(live_server):
    """A timed wait per idle stream cost gevent a timer and 7 objects for every young
    collection to walk (chat/live/beats.py): one ticker beats for them all."""
    assert wait_for(lambda: stats(live_server)["streams"] == 0, timeout=10)
    idle_watchers = stats(live_server)["loop_watchers"]
    first, token = api_send(live_server, "twenty tabs")
    clients, opened = [], []
    try:
        for _ in range(20):
            clients.append(stream(live_server, token, after=first["id"]))
            ready(clients[-1])
            opened.append(time.monotonic())
        time.sleep(4.5)  # heartbeats 1 s apart, each at most a tick (1/64 s) late
        now = time.monotonic()
        for client, since in zip(clients, opened):
            beats, open_for = client.comments.qsize(), now - since
            assert int(open_for / 1.25) <= beats <= int(open_for) + 1, (beats, open_for)
        # Not one per stream (the old tree: 20 more): the stats request's own socket, the
        # ticker's sleep, and the odd timer of the worker's own (delivered marks, Redis).
        assert stats(live_server)["loop_watchers"] - idle_watchers < len(clients) / 2
    finally:
        for client in clients:
            client.close()


def test_polling_an_unchanged_conversation_costs_a_204(live_server):
    first, token = api_send(live_server, "poll me")
    headers = {"X-Chat-Session": token, "HX-Request": "true"}
    request = urllib.request.Request(
        f"{live_server.url}/embed/demo/products/1/messages?after={first['id']}", headers=headers
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204 and response.read() == b""
    second, _ = api_send(live_server, "new one", token)
    with urllib.request.urlopen(request, timeout=5) as response:
        body = response.read().decode()
        assert response.status == 200 and f'id="msg-{second["id"]}"' in body and "poll me" not in body


@pytest.mark.redis
def test_redis_restart_while_messages_flow_loses_nothing_and_duplicates_nothing(tmp_path):
    backends.require("redis")
    port = free_port()
    redis_cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    redis_proc = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(
            lambda: (
                subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG"
            )
        )
        env = prepared_env(
            tmp_path,
            f"sqlite:///{tmp_path}/restart.sqlite",
            redis_url=f"redis://127.0.0.1:{port}/0",
            LIVE_STATS_ENABLED="true",
            SSE_HEARTBEAT_SECONDS="1",
        )
        with LiveServer(env) as server:
            sessions = []
            for name in ("x", "y", "z"):
                first, token = api_send(server, f"{name} start")
                client = stream(server, token, after=first["id"])
                ready(client)
                sessions.append({"token": token, "client": client, "sent": []})
            for i in range(30):
                if i == 10:
                    redis_proc.terminate()
                    redis_proc.wait(10)
                if i == 18:
                    redis_proc = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for s in sessions:
                    s["sent"].append(api_send(server, f"msg {i}", s["token"])[0]["id"])
                time.sleep(0.1)
            assert wait_for(lambda: stats(server)["redis_connected"], timeout=15)
            assert stats(server)["redis_reconnects"] >= 1
            for s in sessions:
                got = s["client"].collect(lambda got, s=s: set(message_ids(got)) >= set(s["sent"]), timeout=20)
                ids = message_ids(got)
                assert len(ids) == len(set(ids)), "a message arrived twice"
                assert ids == s["sent"], "messages missing or out of order"
                s["client"].close()
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)


@pytest.mark.redis
@pytest.mark.mariadb
def test_two_instances_sharing_mariadb_and_redis_deliver_across(tmp_path):
    backends.require("redis")
    backends.require("mariadb")
    name, url = backends.create_mysql_database()
    try:
        env = prepared_env(
            tmp_path,
            url,
            redis_url=backends.REDIS_URL,
            LIVE_STATS_ENABLED="true",
            LIVE_CHANNEL_PREFIX=f"chat-test-{uuid.uuid4().hex[:8]}:",
        )
        with LiveServer(env) as one, LiveServer(env) as two:
            first, token = api_send(one, "hello from one")
            client = stream(two, token, after=first["id"])
            try:
                ready(client)
                sent, _ = api_send(one, "sent to one, streamed by two", token)
                got = client.collect(lambda got: any(e.type == "message" for e in got))
                assert message_ids(got) == [sent["id"]]
                assert stats(one)["pid"] != stats(two)["pid"]
            finally:
                client.close()
    finally:
        backends.drop_mysql_database(name)
