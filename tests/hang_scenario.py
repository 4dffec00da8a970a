"""Time to the 503 while MariaDB hangs, per route class: shared by the test
(tests/test_database_hang.py) and the bench (bench/database_hang.py).

The real server (gunicorn, production settings, rate limits on, the default
database timeouts of gunicorn.conf.py) reaches a fresh MariaDB database through
a TCP proxy that the scenario freezes: connections are taken and kept, nothing
is forwarded, as a hung server or a network that drops packets looks. Every
route class is asked a few times; then the proxy thaws and a send retried with
its client id must go through, stored once.
"""

import re
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import requests

from . import backends
from .live_server import BIN, ROOT, LiveServer, prepared_env
from .tcp_proxy import TCPProxy

ADMIN_EMAIL, ADMIN_PASSWORD = "hang@shop.example", "hang-password-1"


def _cli(env, root, *args):
    flask = [f"{BIN}/flask", "--app", "wsgi", "chat", *args]
    return subprocess.run(flask, env=env, cwd=root, check=True, capture_output=True, text=True).stdout


def _csrf(page):
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', page
    )
    return match.group(1)


class Callers:
    """The clients of every route class, set up while the database answers."""

    def __init__(self, url, site_key):
        self.url = url
        self.retried_id = str(uuid.uuid4())  # the JSON send that waits out the outage
        api = requests.post(
            url + "/api/products/1/messages",
            headers={"X-Chat-Session": ""},
            json={"message_text": "before the hang", "client_message_id": str(uuid.uuid4())},
            timeout=30,
        )
        assert api.status_code == 201, api.text
        self.api_token = api.headers["X-Chat-Session"]
        embed = requests.post(
            url + "/embed/demo/products/2/messages",
            headers={"X-Chat-Session": "", "HX-Request": "true"},
            data={"message_text": "from the widget", "client_message_id": str(uuid.uuid4())},
            timeout=30,
        )
        assert embed.status_code == 201, embed.text
        self.embed_token = embed.headers["X-Chat-Session"]
        self.tickets = [self._ticket() for _ in range(8)]
        self.admin = requests.Session()
        login = self.admin.get(url + "/admin/login", timeout=30)
        self.admin.post(
            url + "/admin/login",
            data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": _csrf(login.text)},
            timeout=30,
        )
        inquiries = self.admin.get(url + "/api/admin/inquiries?status=all", timeout=30)
        assert inquiries.status_code == 200, inquiries.text
        self.inquiry_id = inquiries.json()["inquiries"][0]["id"]
        self.visitor = requests.Session()  # someone about to log in
        self.login_token = _csrf(self.visitor.get(url + "/admin/login", timeout=30).text)
        self.site_key = site_key

    def _ticket(self):
        answer = requests.post(
            self.url + "/embed/demo/stream-ticket", headers={"X-Chat-Session": self.embed_token}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["ticket"]

    def routes(self):
        """(route class, a function making one request of it with a client timeout)."""
        embed = {"X-Chat-Session": self.embed_token, "HX-Request": "true"}
        bearer = {"Authorization": f"Bearer {self.site_key}"}
        url = self.url
        return [
            (
                "send, JSON API",
                lambda timeout: requests.post(
                    url + "/api/products/1/messages",
                    headers={"X-Chat-Session": self.api_token},
                    json={"message_text": "while it hangs", "client_message_id": self.retried_id},
                    timeout=timeout,
                ),
            ),
            (
                "send, embed form",
                lambda timeout: requests.post(
                    url + "/embed/demo/products/2/messages",
                    headers=embed,
                    data={"message_text": "while it hangs", "client_message_id": str(uuid.uuid4())},
                    timeout=timeout,
                ),
            ),
            ("embed page", lambda timeout: requests.get(url + "/embed/demo/products/2", timeout=timeout)),
            (
                "embed conversation",
                lambda timeout: requests.get(
                    url + "/embed/demo/products/2/conversation", headers=embed, timeout=timeout
                ),
            ),
            ("embed unread", lambda timeout: requests.get(url + "/embed/demo/unread", headers=embed, timeout=timeout)),
            ("admin list", lambda timeout: self.admin.get(url + "/admin", timeout=timeout)),
            (
                "admin inquiry page",
                lambda timeout: self.admin.get(url + f"/admin/inquiries/{self.inquiry_id}", timeout=timeout),
            ),
            (
                "admin JSON API",
                lambda timeout: self.admin.get(url + "/api/admin/inquiries?status=all", timeout=timeout),
            ),
            (
                "login",
                lambda timeout: self.visitor.post(
                    url + "/admin/login",
                    data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": self.login_token},
                    allow_redirects=False,
                    timeout=timeout,
                ),
            ),
            (
                "stream open",
                lambda timeout: requests.get(
                    url + "/embed/demo/stream", params={"ticket": self.tickets.pop()}, stream=True, timeout=timeout
                ),
            ),
            (
                "catalog API, site key",
                lambda timeout: requests.get(url + "/api/catalog/products?limit=5", headers=bearer, timeout=timeout),
            ),
        ]


def _timed(request, timeout):
    """(status or "timeout", seconds, Retry-After)."""
    started = time.monotonic()
    try:
        response = request(timeout)
    except requests.exceptions.RequestException:
        return "timeout", time.monotonic() - started, None
    seconds = time.monotonic() - started
    response.close()
    return response.status_code, seconds, response.headers.get("Retry-After")


def run(root=ROOT, rounds=2, timeout=30.0, log=print):
    """Freeze the database for ``rounds`` passes over every route class (alone, then
    back to back, in turn), then thaw.

    Returns ``{"timings": {route class: [(status, seconds, Retry-After), ...]},
    "connections": {route class: [new database connections each request opened, ...]},
    "recovered": (status, seconds until it came), "stored": copies of the retried send}``.
    """
    backends.require("mariadb")
    name, url = backends.create_mysql_database()
    parts = urlsplit(url)
    proxy = TCPProxy(parts.hostname, parts.port or 3306).start()
    proxied = url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    server = None
    try:
        env = prepared_env(None, proxied, root=root, RATELIMIT_ENABLED="true")
        _cli(env, root, "create-admin", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
        site_key = _cli(env, root, "site-key", "demo", "--name", "hang").strip()
        server = LiveServer(env, root=root).start()
        callers = Callers(server.url, site_key)
        routes = callers.routes()
        timings = {route: [] for route, _ in routes}
        connections = {route: [] for route, _ in routes}  # new connections to the database per request

        proxy.freeze()
        for number in range(rounds):
            # Even rounds: each request first to meet the hang (no other request for over
            # a second: a breaker lets it try). Odd rounds: back to back, as a busy server's.
            spaced = number % 2 == 0
            for route, request in routes:
                if spaced:
                    time.sleep(1.2)
                accepted = proxy.accepted
                timings[route].append(_timed(request, timeout))
                connections[route].append(proxy.accepted - accepted)
                log(
                    f"{route} ({'alone' if spaced else 'back to back'}): {timings[route][-1]}, "
                    f"{connections[route][-1]} new connection(s)"
                )
        proxy.thaw()

        started = time.monotonic()
        deadline = started + timeout
        while True:
            status, _, _ = _timed(routes[0][1], timeout)
            if status in (200, 201) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        recovered = (status, time.monotonic() - started)
        again = routes[0][1](timeout)
        stored = _copies(url, callers.retried_id)
        return {
            "timings": timings,
            "connections": connections,
            "recovered": recovered,
            "again": again.status_code,
            "stored": stored,
        }
    finally:
        proxy.thaw()
        if server is not None:
            server.stop()
        proxy.cut()
        backends.drop_mysql_database(name)


def _copies(url, client_message_id):
    """How many rows the database holds for this client message id (asked directly, not through the app)."""
    import pymysql

    parts = urlsplit(url.replace("mysql+pymysql", "mysql"))
    connection = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM product_messages WHERE client_msg_id = %s", (client_message_id,))
            return cursor.fetchone()[0]
    finally:
        connection.close()
