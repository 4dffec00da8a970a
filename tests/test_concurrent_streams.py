"""Every message once, in order, on every stream, while many write at once.

The real server (gunicorn, 2 gevent workers) on MariaDB and Redis: shoppers and two
admins write to the same conversations at once (questions, retried sends, answers,
private notes, status changes with their customer-visible line), while each
conversation has a shopper's stream and an admin's inquiry page that drop and
reconnect with Last-Event-ID at random points. Every stream must end up with exactly
the messages its viewer may see, each once, in id order, across its reconnects; and
every text message a stream delivered carries its delivered mark.
"""

import json
import queue
import random
import re
import threading
import time
import urllib.parse
import uuid

import pymysql
import pytest
import requests

from . import backends
from .live_server import BIN, ROOT, LiveServer, prepared_env
from .sse_client import SSEClient

pytestmark = [pytest.mark.mariadb, pytest.mark.redis]

PASSWORD = "concurrent-streams-1"
ADMINS = ("ana@shop.example", "bo@shop.example")


def create_admin(env, email):
    import subprocess

    subprocess.run(
        [f"{BIN}/flask", "--app", "wsgi", "chat", "create-admin", email, "--password", PASSWORD],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


class Admin:
    """An admin logged in through the form: the JSON API with the session and its CSRF token."""

    def __init__(self, url, email):
        self.url, self.http = url, requests.Session()
        page = self.http.get(f"{url}/admin/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        response = self.http.post(
            f"{url}/admin/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302, response.text
        page = self.http.get(f"{url}/admin", timeout=10).text
        self.http.headers["X-CSRFToken"] = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    def cookie(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)

    def act(self, inquiry_id, rng):
        """One thing an admin does on an inquiry: mostly answer, sometimes a note or a status."""
        base = f"{self.url}/api/admin/inquiries/{inquiry_id}"
        roll = rng.random()
        if roll < 0.5:
            response = self.http.post(f"{base}/respond", json={"message_text": f"answer {uuid.uuid4().hex[:6]}"})
        elif roll < 0.75:
            response = self.http.post(f"{base}/notes", json={"text": f"note {uuid.uuid4().hex[:6]}"})
        else:
            status = rng.choice(["resolved", "in_progress", "closed", "resolved"])
            response = self.http.put(f"{base}/status", json={"status": status})
        assert response.status_code in (200, 201), response.text


class Customer:
    def __init__(self, url):
        self.url, self.http, self.token = url, requests.Session(), ""

    def send(self, product, text, client_id=None):
        response = self.http.post(
            f"{self.url}/api/products/{product}/messages",
            json={"message_text": text, "client_message_id": client_id or str(uuid.uuid4())},
            headers={"X-Chat-Session": self.token},
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text
        self.token = response.headers.get("X-Chat-Session") or self.token
        return response.json()


class Reader(threading.Thread):
    """One stream of one conversation, as a browser keeps it: it drops at random points
    and reconnects with Last-Event-ID, the newest id it got."""

    def __init__(self, opener, start, seed):
        super().__init__(daemon=True)
        self.opener, self.last, self.rng = opener, start, random.Random(seed)
        self.got = []
        self.connects = 0
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                client = self.opener(self.last)
                assert client.status == 200, client.status
                self.connects += 1
                # Drop after a few messages, or after a moment without any.
                budget, deadline = self.rng.randint(1, 8), time.monotonic() + self.rng.uniform(0.2, 1.5)
                while budget and not self.stop.is_set() and time.monotonic() < deadline:
                    try:
                        event = client.events.get(timeout=0.05)
                    except queue.Empty:
                        if client.closed.is_set():
                            break
                        continue
                    if event.type == "message":
                        self.got.append(int(event.id))
                        self.last = int(event.id)
                        budget -= 1
                client.close()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def rows(url, sql, *args):
    parts = urllib.parse.urlsplit(url.replace("mysql+pymysql", "mysql"))
    conn = pymysql.connect(
        host=parts.hostname, port=parts.port or 3306, user=parts.username, database=parts.path.strip("/")
    )
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def test_every_message_reaches_every_stream_once_in_order_across_reconnects(tmp_path):
    backends.require("mariadb")
    backends.require("redis")
    name, url = backends.create_mysql_database()
    try:
        env = prepared_env(
            tmp_path,
            url,
            redis_url=backends.REDIS_URL,
            SSE_HEARTBEAT_SECONDS="1",
            LIVE_CHANNEL_PREFIX=f"chat-order-{uuid.uuid4().hex[:8]}:",
        )
        for email in ADMINS:
            create_admin(env, email)
        with LiveServer(env, workers=2) as server:
            run_scenario(server, url)
    finally:
        backends.drop_mysql_database(name)


def run_scenario(server, url):
    admins = [Admin(server.url, email) for email in ADMINS]
    # Three conversations: one shopper asks about two products, another about one.
    first, second = Customer(server.url), Customer(server.url)
    conversations = []
    for customer, product in ((first, 1), (first, 2), (second, 1)):
        sent = customer.send(product, "Where do I start?")
        conversations.append({"customer": customer, "product": product, "inquiry": sent["inquiry_id"]})
    start = rows(url, "select max(id) from product_messages")[0][0]

    readers = []
    for n, c in enumerate(conversations):

        def shopper(last, c=c):
            ticket = requests.post(
                f"{server.url}/embed/demo/stream-ticket", headers={"X-Chat-Session": c["customer"].token}, timeout=10
            ).json()["ticket"]
            return SSEClient(
                f"{server.url}/embed/demo/stream?product={c['product']}&ticket={ticket}",
                {"Last-Event-ID": str(last)},
            )

        def page(last, c=c, admin=admins[n % 2]):
            return SSEClient(
                f"{server.url}/admin/stream?inquiry={c['inquiry']}",
                {"Last-Event-ID": str(last), "Cookie": admin.cookie()},
            )

        c["readers"] = {"customer": Reader(shopper, start, n), "admin": Reader(page, start, 100 + n)}
        readers.extend(c["readers"].values())
    for reader in readers:
        reader.start()

    def customer_writes(c, seed):
        r = random.Random(seed)
        for i in range(40):
            client_id = str(uuid.uuid4())
            c["customer"].send(c["product"], f"question {i}", client_id)
            if r.random() < 0.2:
                c["customer"].send(c["product"], f"question {i}", client_id)  # a retry: stored once

    def admin_writes(admin, seed):
        r = random.Random(seed)
        for _ in range(60):
            admin.act(r.choice(conversations)["inquiry"], r)

    writers = [threading.Thread(target=customer_writes, args=(c, i)) for i, c in enumerate(conversations)]
    writers += [threading.Thread(target=admin_writes, args=(a, 50 + i)) for i, a in enumerate(admins)]
    errors = []
    for writer in writers:
        writer.run = _catching(writer.run, errors)
        writer.start()
    for writer in writers:
        writer.join(180)
    assert not errors, errors

    expected = {}
    for c in conversations:
        messages = rows(
            url,
            "select id, visibility from product_messages where inquiry_id = %s and id > %s order by id",
            c["inquiry"],
            start,
        )
        expected[c["inquiry"], "admin"] = [i for i, _ in messages]
        expected[c["inquiry"], "customer"] = [i for i, visibility in messages if visibility == "public"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        not set(expected[c["inquiry"], viewer]) <= set(r.got)
        for c in conversations
        for viewer, r in c["readers"].items()
    ):
        time.sleep(0.2)
    for reader in readers:
        reader.stop.set()
    for reader in readers:
        reader.join(10)

    total = 0
    for c in conversations:
        for viewer, reader in c["readers"].items():
            assert reader.error is None, reader.error
            want = expected[c["inquiry"], viewer]
            assert len(want) > 30 and reader.connects > 3
            duplicates = len(reader.got) - len(set(reader.got))
            missing = sorted(set(want) - set(reader.got))
            out_of_order = sum(1 for a, b in zip(reader.got, reader.got[1:]) if b < a)
            assert (duplicates, missing, out_of_order) == (0, [], 0), json.dumps(
                {"viewer": viewer, "inquiry": c["inquiry"], "connects": reader.connects, "got": reader.got}
            )
            assert reader.got == want
            total += len(want)
    assert total > 300

    # Every text message a stream of the other side delivered carries its mark.
    def unmarked():
        return rows(
            url,
            "select id, sender_type from product_messages where id > %s and message_type = 'text'"
            " and visibility = 'public' and delivered_at is null",
            start,
        )

    deadline = time.monotonic() + 10
    while unmarked() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert unmarked() == ()


def _catching(run, errors):
    def wrapped():
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(repr(exc))

    return wrapped
