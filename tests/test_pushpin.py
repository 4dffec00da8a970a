"""Shoppers' streams held by a real Pushpin (LIVE_PROXY=pushpin, deploy/pushpin/).

One pushpin process and one app server (gunicorn + gevent, SQLite) for the module, on
spare ports. Needs Debian's pushpin (skipped without it, a failure under CI=true).
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import requests

from . import backends
from .live_server import BIN, ROOT, LiveServer, demo_admin_token, prepared_env
from .pushpin_server import Pushpin, pushpin_available
from .sse_client import SSEClient, message_ids

KEY = "pushpin-test-key"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not pushpin_available():
        if backends.IN_CI:
            pytest.fail("pushpin is not installed (CI=true: the Pushpin tests must run)")
        pytest.skip("pushpin is not installed")
    tmp_path = tmp_path_factory.mktemp("pushpin")
    # The app's port first: Pushpin's routes name it, the app's env names Pushpin's publish URL.
    server = LiveServer(None)
    proxy = Pushpin(server.port, KEY)
    server.env = prepared_env(
        tmp_path,
        f"sqlite:///{tmp_path}/pushpin.sqlite",
        LIVE_PROXY="pushpin",
        PUSHPIN_SIG_KEY=KEY,
        PUSHPIN_PUBLISH_URL=proxy.publish_url,
        SSE_HEARTBEAT_SECONDS=2,
    )
    with server, proxy:
        yield server, proxy, {"Authorization": f"Bearer {demo_admin_token(server.env)}"}


class Shopper:
    def __init__(self, proxy):
        self.proxy, self.token = proxy, None

    def send(self, text):
        headers = {"X-Chat-Session": self.token} if self.token else {}
        body = {"message_text": text, "client_message_id": str(uuid.uuid4())}
        response = requests.post(f"{self.proxy.url}/api/products/1/messages", json=body, headers=headers, timeout=10)
        response.raise_for_status()
        self.token = self.token or response.headers["X-Chat-Session"]
        return response.json()

    def ticket(self):
        response = requests.post(
            f"{self.proxy.url}/embed/demo/stream-ticket", headers={"X-Chat-Session": self.token}, timeout=10
        )
        response.raise_for_status()
        return response.json()["ticket"]

    def stream(self, last_event_id=None, ticket=None, base=None):
        url = f"{base or self.proxy.url}/embed/demo/stream?product=1&ticket={ticket or self.ticket()}"
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        return SSEClient(url, headers)


def answer(setup, inquiry_id, text):
    server, proxy, admin = setup
    response = requests.post(
        f"{proxy.url}/api/admin/inquiries/{inquiry_id}/respond", json={"message_text": text}, headers=admin, timeout=10
    )
    response.raise_for_status()
    return response.json()["id"]


def until_ready(client):
    return client.collect(lambda got: got and got[-1].type == "ready", timeout=15)


def until_message(message_id):
    return lambda got: message_id in message_ids(got)


def test_a_stream_through_pushpin_gets_the_answer_live(setup):
    server, proxy, _ = setup
    shopper = Shopper(proxy)
    first = shopper.send("Is it waterproof?")
    client = shopper.stream()
    try:
        assert client.status == 200
        assert not any(name.lower().startswith("grip-") for name in client.headers), "Pushpin strips GRIP headers"
        until_ready(client)
        answer_id = answer(setup, first["inquiry_id"], "Yes, to 30 m.")
        # The answer, and the launcher's badge (on the session's own channel).
        got = client.collect(lambda got: answer_id in message_ids(got) and any(e.type == "unread" for e in got))
        assert "Yes, to 30 m." in [e for e in got if e.type == "message"][-1].data
        assert [e.data for e in got if e.type == "unread"] == ["1"]
    finally:
        client.close()


def test_a_reconnect_with_last_event_id_replays_what_was_missed_once(setup):
    server, proxy, _ = setup
    shopper = Shopper(proxy)
    first = shopper.send("Which sizes?")
    inquiry = first["inquiry_id"]
    client = shopper.stream(last_event_id=first["id"])
    until_ready(client)
    a = answer(setup, inquiry, "S to XL.")
    client.collect(until_message(a))
    client.close()
    missed = [answer(setup, inquiry, f"Also XXL, part {n}.") for n in range(3)]
    again = shopper.stream(last_event_id=a)
    try:
        replay = until_ready(again)
        assert message_ids(replay) == missed
        live = answer(setup, inquiry, "And XS.")
        got = again.collect(until_message(live))
        assert message_ids(replay + got) == missed + [live], "every message once, in order"
    finally:
        again.close()


def test_a_lost_publish_is_filled_in_by_pushpin_asking_the_app(setup):
    """An answer whose publish never reached Pushpin (written by another process whose
    publish URL is dead): the next answer's prev-id shows the gap, Pushpin asks the app
    for what came after the last message the stream got, and the stream shows both, once,
    in order."""
    server, proxy, _ = setup
    shopper = Shopper(proxy)
    first = shopper.send("Does it fit a 15-inch laptop?")
    inquiry = first["inquiry_id"]
    client = shopper.stream(last_event_id=first["id"])
    try:
        until_ready(client)
        env = dict(server.env, PUSHPIN_PUBLISH_URL="http://127.0.0.1:9/publish/")
        out = subprocess.run(
            [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "reply", str(inquiry), "Yes, 16 too."],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        lost = int(out.stdout.split("(message ")[1].rstrip(").\n"))
        assert "publish to http://127.0.0.1:9/publish/ failed" in out.stderr
        following = answer(setup, inquiry, "And it is padded.")
        got = client.collect(until_message(following))
        assert message_ids(got) == [lost, following]
    finally:
        client.close()


def test_a_used_or_forged_ticket_is_refused(setup):
    server, proxy, _ = setup
    shopper = Shopper(proxy)
    shopper.send("Hello")
    ticket = shopper.ticket()
    first = shopper.stream(ticket=ticket)
    try:
        assert first.status == 200
        assert shopper.stream(ticket=ticket).status == 403
        assert shopper.stream(ticket=ticket[:-4] + "AAAA").status == 403
    finally:
        first.close()


def test_another_shoppers_stream_never_gets_the_answer(setup):
    server, proxy, _ = setup
    alice, bob = Shopper(proxy), Shopper(proxy)
    alice_first = alice.send("Alice asks")
    bob_first = bob.send("Bob asks")
    alice_stream, bob_stream = alice.stream(), bob.stream()
    try:
        until_ready(alice_stream)
        until_ready(bob_stream)
        for_alice = answer(setup, alice_first["inquiry_id"], "For Alice only")
        for_bob = answer(setup, bob_first["inquiry_id"], "For Bob only")
        alice_stream.collect(until_message(for_alice))
        got = bob_stream.collect(until_message(for_bob))
        assert for_alice not in message_ids(got)
        assert not any("For Alice only" in e.data for e in got)
    finally:
        alice_stream.close()
        bob_stream.close()


def _held_channels(server, shopper):
    """The channels Pushpin would hold ``shopper``'s stream on, asked of the app directly
    with a valid Grip-Sig (as Pushpin asks): {"m": messages, "e": events, "u": badge}."""
    sig = _jwt(KEY, {"iss": "pushpin", "exp": time.time() + 600})
    url = f"{server.url}/embed/demo/stream?product=1&ticket={shopper.ticket()}"
    with requests.get(url, headers={"Grip-Sig": sig}, timeout=10) as response:
        held = response.headers["Grip-Channel"]  # "m.…; prev-id=3, e.…, u.…"
    names = [part.split(";")[0].strip() for part in held.split(",")]
    return {name.split(".")[0]: name for name in names}


def test_an_answer_is_not_held_back_while_other_conversations_are_busy(setup):
    """Another shopper's widget gets an event every few milliseconds (a busy shop) while
    one shopper is answered: the answer arrives while that traffic still runs. With a
    publish rate limit Pushpin 1.36 held every publish until the traffic paused (its batch
    timer restarts on each publish: deploy/pushpin/pushpin.conf, message_rate)."""
    server, proxy, _ = setup
    shopper, busy = Shopper(proxy), Shopper(proxy)
    first = shopper.send("Is the blue one in stock?")
    client = shopper.stream(last_event_id=first["id"])
    busy.send("Hello")
    events_channel = _held_channels(server, busy)["e"]
    busy_stream = busy.stream()
    answered, traffic_done = threading.Event(), threading.Event()

    def keep_publishing():
        # Until the answer arrived, 5 s at most.
        item = {"channel": events_channel, "formats": {"http-stream": {"content": "event: busy\ndata: x\n\n"}}}
        body = json.dumps({"items": [item]}).encode()
        deadline = time.monotonic() + 5
        while not answered.is_set() and time.monotonic() < deadline:
            request = urllib.request.Request(proxy.publish_url, data=body, headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=5).close()
            time.sleep(0.003)
        traffic_done.set()

    traffic = threading.Thread(target=keep_publishing)
    try:
        until_ready(client)
        until_ready(busy_stream)
        traffic.start()
        busy_stream.collect(lambda got: len(got) >= 3, timeout=10)  # the traffic reaches its stream
        answer_id = answer(setup, first["inquiry_id"], "Yes, three left.")
        client.collect(until_message(answer_id), timeout=10)
        assert not traffic_done.is_set(), "the answer came only once the other conversation went quiet"
    finally:
        answered.set()
        traffic.join(10)
        client.close()
        busy_stream.close()


def _jwt(key, claims):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


@pytest.mark.parametrize(
    "sig",
    [
        _jwt("not-the-key", {"iss": "pushpin", "exp": time.time() + 600}),
        _jwt(KEY, {"iss": "pushpin", "exp": time.time() - 10}),  # expired
        "forged",
    ],
)
def test_a_request_with_a_forged_grip_sig_is_not_held(setup, sig):
    """Straight to the app (not through Pushpin): the app streams itself, never hands out GRIP instructions."""
    server, proxy, _ = setup
    shopper = Shopper(proxy)
    shopper.send("Hi")
    url = f"{server.url}/embed/demo/stream?product=1&ticket={shopper.ticket()}"
    with requests.get(url, headers={"Grip-Sig": sig}, stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert "Grip-Hold" not in response.headers and "Grip-Channel" not in response.headers
        assert next(response.iter_content(chunk_size=None)).startswith(b"retry:")
    # A recovery URL is refused without a valid signature too (it is not even a stream request).
    try:
        urllib.request.urlopen(
            urllib.request.Request(f"{server.url}/embed/demo/stream?recover=x", headers={"Grip-Sig": sig}), timeout=10
        )
        raise AssertionError("recover without a valid Grip-Sig must not be answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
