"""The admin inquiry list and inquiry page on a big MariaDB database.

    .venv/bin/python bench/admin_list.py            # 100,000 inquiries, 1,000,000 messages
    .venv/bin/python bench/admin_list.py --quick    # 10,000 inquiries, 100,000 messages
    .venv/bin/python bench/admin_list.py --inquiries 20000 --messages-per-inquiry 5 --requests 100
    .venv/bin/python bench/admin_list.py --what-if-indexes   # + the indexes the report suggests

A benchmark, not a test: it prints figures and never passes or fails.

1. Creates a fresh database ``bench_chat_<random>`` (utf8mb4) on MariaDB at
   127.0.0.1:3306 (user root, no password; see --mysql-*), builds the schema
   with the app's own migrations (``flask db upgrade``) and ``flask chat
   seed-demo`` (12 products, the demo admin), and adds 4 more admins.
2. Fills it with bulk INSERTs (PyMySQL ``executemany``, one transaction per
   batch of inquiries): inquiries over the last 90 days, status mix 30 %
   pending / 20 % in progress / 40 % resolved / 10 % closed, priority 10 % high /
   60 % medium / 30 % low, ~10 messages each (customer and shop taking turns,
   a status note or two from the shop), some customers with several
   inquiries (same session or same email). last_message_at, waiting_since and
   queue_key are derived from the messages exactly like the app does
   (queue_key by calling ``ProductInquiry.refresh_queue_key`` itself).
3. Starts the real server the way the live tests do (tests/live_server.py:
   gunicorn, one gevent worker, production config, no Redis), logs in as the
   demo admin over HTTP, and times sequential requests over ONE keep-alive
   connection: ``--warmup`` unmeasured then ``--requests`` measured per case,
   round robin over the cases (so load from elsewhere hits all cases alike).
   SERVER time is gunicorn's own request time (access log ``%(D)s``, in
   microseconds, from request parsed to response written, enabled through
   GUNICORN_CMD_ARGS; the app is unchanged); the loopback wall time seen by
   the client is printed too.
4. Runs one request of every case in-process (Flask test client on the same
   database) to count its SQL statements and time each one, and prints
   EXPLAIN for every distinct SELECT (statement and parameters).
   With --what-if-indexes, indexes the app does not have (WHAT_IF_INDEXES) are
   added to the bench database after the fill, to see what they would change.
5. Drops the database (unless --keep).

Everything goes to 127.0.0.1; every loop is bounded.
"""

import argparse
import base64
import html
import http.client
import http.cookies
import itertools
import math
import os
import pathlib
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
from datetime import UTC, datetime, timedelta

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymysql

from chat.services import search
from tests.live_server import BIN, LiveServer, prepared_env

PAGE_SIZE = 50

STATUSES = [("pending", 30), ("in_progress", 20), ("resolved", 40), ("closed", 10)]
PRIORITIES = [("high", 10), ("medium", 60), ("low", 30)]
EXTRA_ADMINS = [
    ("Alex Morgan", "alex@example.com"),
    ("Sam Rivera", "sam@example.com"),
    ("Jo Chen", "jo@example.com"),
    ("Kim Novak", "kim@example.com"),
]

CUSTOMER_TEXTS = [
    "Hi, is this still in stock?",
    "Does it ship to Austria?",
    "How long does delivery take?",
    "Can I return it if it doesn't fit?",
    "What is the warranty on this?",
    "Is there a bigger size?",
    "Does it come in black?",
    "Is the price including VAT?",
    "Can I pick it up in the shop?",
    "My order hasn't arrived yet, can you check?",
    "Is it dishwasher safe?",
    "What are the exact dimensions?",
    "Does it work with 110 V?",
    "Hello? Anyone there?",
    "Thanks! One more question:",
    "Can I get a discount if I buy two?",
    "Is this the 2024 model?",
    "Do you have spare parts for it?",
    "The package arrived damaged, what now?",
    "Can I change the delivery address?",
    "Is it suitable for kids under 6?",
    "How do I clean it properly?",
    "When will it be back in stock?",
    "Great, I'll order today.",
    "Can you send me the invoice again?",
    "Is there a gift wrap option?",
]
ADMIN_TEXTS = [
    "Hi! Yes, it's in stock and ships within 24 hours.",
    "We ship to all EU countries, usually 2-4 days.",
    "You can return it within 30 days, free of charge.",
    "It comes with a 2-year warranty.",
    "Sorry, that size is sold out; we expect more next week.",
    "Yes, all prices include VAT.",
    "Pick-up is possible Mon-Fri 9-18 at our shop.",
    "I checked your order: it's with the courier today.",
    "Yes, it's dishwasher safe (top rack).",
    "Dimensions are in the description, 26 x 4 cm.",
    "It works with 100-240 V, you only need a plug adapter.",
    "Thanks for waiting! Here's the answer:",
    "Buy two and use code TWOFOR10 for 10% off.",
    "Spare parts are available, I'll send you a link.",
    "So sorry! Please send a photo and we'll replace it.",
    "Done, the address is updated.",
    "Wash by hand with warm water and mild soap.",
    "We expect it back in about 10 days.",
    "I've resent the invoice to your email.",
    "Gift wrap is free, just add a note at checkout.",
]
SEARCH_WORD = "warranty"
# --what-if-indexes: indexes the app does NOT have, added to the bench database only,
# to measure what they would change: waiting_count() and other_inquiries() scan the whole table
# without them, and status+product walks idx_queue instead of a (product, status) range.
WHAT_IF_INDEXES = [
    (
        "ALTER TABLE product_inquiries ADD INDEX bench_status_waiting (status, waiting_since),"
        " ADD INDEX bench_session (session_id), ADD INDEX bench_customer_email (customer_email),"
        " ADD INDEX bench_product_status_queue (product_id, status, queue_key)"
    ),
]


def pick(rng, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def percentile(values, pct):
    """Nearest rank."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# -- database -----------------------------------------------------------------


def mysql_connect(args, database=None, **kw):
    return pymysql.connect(
        host=args.mysql_host,
        port=args.mysql_port,
        user=args.mysql_user,
        password=args.mysql_password,
        database=database,
        charset="utf8mb4",
        autocommit=True,
        **kw,
    )


def database_url(args, name):
    auth = args.mysql_user + (":" + urllib.parse.quote(args.mysql_password) if args.mysql_password else "")
    return f"mysql+pymysql://{auth}@{args.mysql_host}:{args.mysql_port}/{name}?charset=utf8mb4"


def queue_key(inquiry_id, priority, created_at, last_message_at, waiting_since):
    """The app's own formula: ProductInquiry.refresh_queue_key called on a plain object."""
    from chat.models import ProductInquiry

    obj = types.SimpleNamespace(
        PRIORITY_RANK=ProductInquiry.PRIORITY_RANK,
        id=inquiry_id,
        priority=priority,
        created_at=created_at,
        last_message_at=last_message_at,
        waiting_since=waiting_since,
        queue_key=None,
    )
    return ProductInquiry.refresh_queue_key(obj)


class Filler:
    """Builds inquiries and their messages in Python and bulk-inserts them."""

    def __init__(self, args, conn, product_ids, admins):
        self.args = args
        self.conn = conn
        self.rng = random.Random(args.seed)
        self.product_ids = product_ids
        self.admins = admins  # [(id, name)], the demo admin first
        self.now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        self.sessions = []  # recent sessions a returning customer may reuse
        self.session_products = {}
        self.message_id = 0
        self.messages_total = 0

    def counts(self):
        """Messages per inquiry: 1..2M-1 (mean M), nudged so the total is exactly N*M."""
        n, m = self.args.inquiries, self.args.messages_per_inquiry
        rng = self.rng
        counts = [rng.randint(1, max(1, 2 * m - 1)) for _ in range(n)]
        diff = n * m - sum(counts)
        top = max(1, 2 * m - 1)
        guard = 0
        while diff and guard < 50 * n:
            guard += 1
            i = rng.randrange(n)
            if diff > 0 and counts[i] < top:
                counts[i] += 1
                diff -= 1
            elif diff < 0 and counts[i] > 1:
                counts[i] -= 1
                diff += 1
        return counts

    def session_for(self, product_id):
        rng = self.rng
        if self.sessions and rng.random() < 0.2:
            session = rng.choice(self.sessions)
            if product_id not in self.session_products[session]:
                self.session_products[session].add(product_id)
                return session
        session = base64.urlsafe_b64encode(rng.randbytes(24)).decode()
        self.session_products[session] = {product_id}
        self.sessions.append(session)
        if len(self.sessions) > 5000:
            self.sessions = self.sessions[-2500:]
        return session

    def client_id(self):
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def inquiry(self, inquiry_id, count):
        rng, now = self.rng, self.now
        product_id = rng.choice(self.product_ids)
        session = self.session_for(product_id)
        status = pick(rng, STATUSES)
        priority = pick(rng, PRIORITIES)
        created = now - timedelta(seconds=rng.uniform(60, 90 * 86400))
        email = consent = None
        if rng.random() < 0.4:
            email = f"customer{rng.randrange(max(1, self.args.inquiries // 3))}@example.net"
            consent = created + timedelta(seconds=rng.uniform(5, 300))
        assign_p = {"pending": 0.2, "in_progress": 0.9, "resolved": 0.8, "closed": 0.8}[status]
        assignee = None
        if rng.random() < assign_p:
            assignee = self.admins[0] if rng.random() < 0.3 else rng.choice(self.admins[1:])
        # Who writes: customer first, then mostly taking turns. A customer writing
        # again reopens a resolved inquiry (pending), so those end with the shop.
        systems = 0
        if status != "pending" and count >= 4:
            systems = 1 + (status in ("resolved", "closed") and count >= 5)
        texts = count - systems
        senders = ["customer"]
        for _ in range(texts - 1):
            prev = senders[-1]
            senders.append(prev if rng.random() < 0.25 else ("admin" if prev == "customer" else "customer"))
        waiting = {"pending": 0.95, "in_progress": 0.65, "resolved": 0.0, "closed": 0.0}[status]
        if texts >= 2:
            senders[-1] = "customer" if rng.random() < waiting else "admin"
        # Times: answers within hours, follow-ups within a day, all before now.
        gaps = []
        for prev, cur in itertools.pairwise(senders):
            mean = 60 if prev == cur else (3 * 3600 if cur == "admin" else 8 * 3600)
            gaps.append(min(rng.expovariate(1 / mean), 4 * 86400))
        span = (now - created).total_seconds() * 0.98
        total = sum(gaps)
        if total > span:
            gaps = [g * span / total for g in gaps]
        times = [created]
        for g in gaps:
            times.append(times[-1] + timedelta(seconds=g))
        last_admin_text = max((i for i, s in enumerate(senders) if s == "admin"), default=None)
        waiting_since = None
        if senders[-1] == "customer":
            first_waiting = 0 if last_admin_text is None else last_admin_text + 1
            waiting_since = times[first_waiting]
        last_message_at = times[-1]
        admin_id = assignee[0] if assignee else self.admins[0][0]
        admin_name = assignee[1] if assignee else self.admins[0][1]
        rows = []
        for i, (sender, at) in enumerate(zip(senders, times)):
            waiting_msg = waiting_since is not None and at >= waiting_since
            if sender == "customer":
                text = rng.choice(CUSTOMER_TEXTS)
                if rng.random() < 0.3:
                    text += f" Order #{rng.randrange(100000, 999999)}."
                if waiting_msg:
                    delivered = at + timedelta(seconds=2) if rng.random() < 0.5 else None
                    row = ("customer", None, text, "text", 0, at, self.client_id(), None, delivered, None)
                else:
                    row = (
                        "customer",
                        None,
                        text,
                        "text",
                        1,
                        at,
                        self.client_id(),
                        None,
                        at + timedelta(seconds=2),
                        at + timedelta(seconds=rng.uniform(30, 3600)),
                    )
            else:
                text = rng.choice(ADMIN_TEXTS)
                unread = i == len(senders) - 1 and rng.random() < 0.3
                row = (
                    "admin",
                    admin_id,
                    text,
                    "text",
                    0 if unread else 1,
                    at,
                    None,
                    None,
                    at + timedelta(seconds=1),
                    None if unread else at + timedelta(seconds=rng.uniform(30, 7200)),
                )
            rows.append(row)
        # The shop's status notes: "in progress" after the first answer, "resolved" at the end.
        if systems:
            first_admin = next((i for i, s in enumerate(senders) if s == "admin"), 0)
            at = times[first_admin] + timedelta(microseconds=500)
            rows.insert(
                first_admin + 1,
                ("admin", admin_id, f"Marked in progress by {admin_name}", "system", 1, at, None, "status", at, at),
            )
        if systems == 2:
            at = times[-1] + timedelta(seconds=rng.uniform(60, 3600))
            at = min(at, now)
            label = "resolved" if status == "resolved" else "closed"
            rows.append(("admin", admin_id, f"Marked {label} by {admin_name}", "system", 1, at, None, "status", at, at))
        rows.sort(key=lambda r: r[5])
        updated = max(r[5] for r in rows)
        notified = waiting_since if waiting_since and (now - waiting_since) > timedelta(minutes=30) else None
        key = queue_key(inquiry_id, priority, created, last_message_at, waiting_since)
        inquiry_row = (
            inquiry_id,
            product_id,
            session,
            email,
            consent,
            status,
            priority,
            created,
            updated,
            assignee[0] if assignee else None,
            last_message_at,
            waiting_since,
            key,
            notified,
        )
        message_rows = []
        for r in rows:
            self.message_id += 1
            message_rows.append((self.message_id, inquiry_id) + r)
        return inquiry_row, message_rows

    def run(self):
        counts = self.counts()
        cur = self.conn.cursor()
        cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        batch = self.args.batch
        started = time.monotonic()
        for first in range(0, len(counts), batch):
            inquiries, messages = [], []
            for offset, count in enumerate(counts[first : first + batch]):
                inquiry_row, message_rows = self.inquiry(first + offset + 1, count)
                inquiries.append(inquiry_row)
                messages.extend(message_rows)
            self.conn.begin()
            cur.executemany(
                "INSERT INTO product_inquiries (id, product_id, session_id, customer_email, email_consent_at,"
                " status, priority, created_at, updated_at, assigned_admin_id, last_message_at, waiting_since,"
                " queue_key, notified_waiting_since) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                inquiries,
            )
            for start in range(0, len(messages), 10000):
                cur.executemany(
                    "INSERT INTO product_messages (id, inquiry_id, sender_type, sender_id, message_text,"
                    " message_type, is_read, created_at, client_msg_id, system_event, delivered_at, read_at)"
                    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    messages[start : start + 10000],
                )
            # The search's word index, as the app writes it with each message.
            words = sorted({(m[1], w) for m in messages for w in search.indexed_words(m[4])})
            for start in range(0, len(words), 20000):
                cur.executemany(
                    "INSERT INTO inquiry_words (inquiry_id, word) VALUES (%s,%s)", words[start : start + 20000]
                )
            self.conn.commit()
            self.messages_total += len(messages)
            done = first + len(inquiries)
            if done % (batch * 4) == 0 or done == len(counts):
                print(
                    f"  {done:>9,} inquiries, {self.messages_total:>10,} messages"
                    f"  ({time.monotonic() - started:6.1f} s)",
                    flush=True,
                )
        cur.execute("SET SESSION unique_checks = 1, foreign_key_checks = 1")
        cur.execute("ANALYZE TABLE product_inquiries, product_messages, inquiry_words, users, products")
        cur.fetchall()
        return time.monotonic() - started


# -- HTTP client: one keep-alive connection, cookies by hand -------------------


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies = {}
        self.counter = 0

    def request(self, method, path, body=None, headers=None, tag=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if tag:
            headers["X-Bench-Id"] = tag
        if body is not None:
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        elapsed = time.perf_counter() - started
        for header in response.msg.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response.status, data, elapsed

    def login(self, email, password):
        status, page, _ = self.request("GET", "/admin/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"login page: HTTP {status}")
        status, _, _ = self.request(
            "POST",
            "/admin/login",
            body={"email": email, "password": password, "csrf_token": html.unescape(token.group(1).decode())},
        )
        if status != 302:
            raise RuntimeError(f"login failed: HTTP {status}")
        status, _, _ = self.request("GET", "/admin")
        if status != 200:
            raise RuntimeError(f"not logged in after login: HTTP {status}")


def read_access_log(path, prefix, expected, timeout=5.0):
    """Server times (ms) of the tagged requests, from gunicorn's access log."""
    deadline = time.monotonic() + timeout
    while True:
        times = {}
        with open(path, errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[0].startswith(prefix):
                    times[parts[0]] = int(parts[1]) / 1000
        if len(times) >= expected or time.monotonic() > deadline:
            return times
        time.sleep(0.05)


# -- in-process SQL profile -----------------------------------------------------


class Profiler:
    """One request of a case through the Flask test client, every SQL statement timed."""

    def __init__(self, url, email, password):
        os.environ.update(
            CHAT_CONFIG="production",
            SECRET_KEY="bench-secret",
            DATABASE_URL=url,
            SESSION_COOKIE_SECURE="false",
            RATELIMIT_ENABLED="false",
        )
        os.environ.pop("REDIS_URL", None)
        from sqlalchemy import event

        from chat import create_app
        from chat.extensions import db

        self.app = create_app("production")
        self.statements = None
        with self.app.app_context():
            engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn, cursor, statement, parameters, context, executemany):
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn, cursor, statement, parameters, context, executemany):
            if self.statements is not None:
                self.statements.append(
                    (statement, parameters, (time.perf_counter() - conn.info["bench_started"]) * 1000)
                )

        self.client = self.app.test_client()
        page = self.client.get("/admin/login").get_data()
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        # Flask's test client takes PREFERRED_URL_SCHEME (https in production): CSRF wants a same-origin Referer.
        response = self.client.post(
            "/admin/login",
            data={"email": email, "password": password, "csrf_token": html.unescape(token)},
            headers={"Referer": "https://localhost/admin/login"},
        )
        assert response.status_code == 302, response.status_code

    def profile(self, path, headers):
        self.statements = []
        started = time.perf_counter()
        response = self.client.get(path, headers=headers)
        total = (time.perf_counter() - started) * 1000
        statements, self.statements = self.statements, None
        return response.status_code, len(response.get_data()), total, statements


def explain(conn, statement, parameters):
    cur = conn.cursor(pymysql.cursors.DictCursor)
    cur.execute("EXPLAIN " + statement, parameters)
    return cur.fetchall()


def short_sql(statement, width=170):
    """SELECT FROM <table> [+JOIN] WHERE ... with IN lists and parameter names folded."""
    sql = re.sub(r"\s+", " ", statement).strip()
    sql = re.sub(r"\((?:%\(\w+\)s(?:, )?)+\)", "(...)", sql)
    sql = re.sub(r"%\(\w+\)s", "?", sql)
    if sql.upper().startswith("SELECT"):
        table = re.search(r" FROM (\w+)", sql).group(1)
        where = sql.find(" WHERE ")
        tail = sql[where:] if where >= 0 else sql[sql.find(" FROM " + table) + 6 + len(table) :]
        sql = f"SELECT FROM {table}{' +JOIN' if ' JOIN ' in sql[: max(where, 0) or len(sql)] else ''}{tail}"
    return sql if len(sql) <= width else sql[: width - 3] + "..."


# -- main -----------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 inquiries (unless --inquiries is given)")
    parser.add_argument("--inquiries", type=int)
    parser.add_argument("--messages-per-inquiry", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per case")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per case first")
    parser.add_argument(
        "--search-requests", type=int, default=10, help="requests for the (extra) text search case; 0 to skip it"
    )
    parser.add_argument("--batch", type=int, default=5000, help="inquiries per INSERT transaction")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--what-if-indexes",
        action="store_true",
        help="add the indexes the report suggests (bench database only) before measuring",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process SQL profile/EXPLAIN")
    parser.add_argument("--mysql-host", default="127.0.0.1")
    parser.add_argument("--mysql-port", type=int, default=3306)
    parser.add_argument("--mysql-user", default="root")
    parser.add_argument("--mysql-password", default="")
    args = parser.parse_args()
    if args.mysql_host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the benchmark only talks to a local MariaDB")
    if args.inquiries is None:
        args.inquiries = 10_000 if args.quick else 100_000
    args.inquiries = max(200, min(args.inquiries, 1_000_000))
    args.messages_per_inquiry = max(1, min(args.messages_per_inquiry, 100))
    args.requests = max(1, min(args.requests, 5000))
    args.warmup = max(0, min(args.warmup, 1000))

    name = f"bench_chat_{os.urandom(4).hex()}"
    url = database_url(args, name)
    admin = mysql_connect(args)
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    print(f"database {name} ({url})", flush=True)
    server = None
    tmp = tempfile.mkdtemp(prefix="bench-admin-list-")
    access_log = os.path.join(tmp, "access.log")
    try:
        # -- schema, demo shop, extra admins --
        env = prepared_env(tmp, url, seed=False)
        seeded = subprocess.run(
            [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "seed-demo"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        login = re.search(r"Admin login: (\S+) / (\S+)", seeded.stdout)
        email, password = login.group(1), login.group(2)
        conn = mysql_connect(args, name)
        cur = conn.cursor()
        cur.execute("SELECT id FROM products ORDER BY id")
        product_ids = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT id, name FROM users WHERE email = %s", (email,))
        admins = [cur.fetchone()]
        for admin_name, admin_email in EXTRA_ADMINS:
            cur.execute(
                "INSERT INTO users (email, name, password_hash, is_active, created_at)"
                " VALUES (%s, %s, %s, 1, UTC_TIMESTAMP(6))",
                (admin_email, admin_name, "bench:no-login"),
            )
            admins.append((cur.lastrowid, admin_name))

        # -- fill --
        total_messages = args.inquiries * args.messages_per_inquiry
        print(
            f"filling {args.inquiries:,} inquiries and {total_messages:,} messages "
            f"({len(product_ids)} products, {len(admins)} admins)...",
            flush=True,
        )
        filler = Filler(args, conn, product_ids, admins)
        fill_seconds = filler.run()
        cur.execute("SELECT status, COUNT(*), SUM(waiting_since IS NOT NULL) FROM product_inquiries GROUP BY status")
        mix = ", ".join(f"{s} {n:,} ({int(w):,} waiting)" for s, n, w in cur.fetchall())
        cur.execute(
            "SELECT ROUND(SUM(data_length + index_length) / 1048576) FROM information_schema.tables"
            " WHERE table_schema = %s",
            (name,),
        )
        size_mb = cur.fetchone()[0]
        print(
            f"fill: {fill_seconds:.1f} s  ({filler.messages_total:,} messages; {mix}; ~{size_mb} MB on disk)",
            flush=True,
        )

        if args.what_if_indexes:
            for ddl in WHAT_IF_INDEXES:
                print(f"what-if: {ddl}", flush=True)
                cur.execute(ddl)
            cur.execute("ANALYZE TABLE product_inquiries")
            cur.fetchall()

        # -- the cases --
        cur.execute(
            "SELECT queue_key FROM product_inquiries ORDER BY queue_key LIMIT 1 OFFSET %s", (args.inquiries // 2,)
        )
        deep_all = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM product_inquiries WHERE status = 'pending'")
        pending = cur.fetchone()[0]
        cur.execute(
            "SELECT queue_key FROM product_inquiries WHERE status = 'pending' ORDER BY queue_key LIMIT 1 OFFSET %s",
            (pending // 2,),
        )
        deep_pending = cur.fetchone()[0]
        # The busiest admin other than the demo one, for the assignee filter.
        cur.execute(
            "SELECT assigned_admin_id FROM product_inquiries WHERE assigned_admin_id <> %s"
            " GROUP BY assigned_admin_id ORDER BY COUNT(*) DESC LIMIT 1",
            (admins[0][0],),
        )
        assignee = cur.fetchone()[0]
        rng = random.Random(args.seed + 1)
        open_ids = rng.sample(range(1, args.inquiries + 1), min(args.inquiries, args.warmup + args.requests))
        profile_open = open_ids[-1]  # measured once over HTTP already: no first-open writes in the profile

        htmx = {"HX-Request": "true"}
        cases = [
            ("first page, full HTML: /admin?status=pending", lambda i: "/admin?status=pending", {}),
            (
                "first page, fragment: /admin/inquiries?status=pending (HX)",
                lambda i: "/admin/inquiries?status=pending",
                htmx,
            ),
            (
                "filtered: status=in_progress&priority=high&assignee=<id>",
                lambda i: f"/admin?status=in_progress&priority=high&assignee={assignee}",
                {},
            ),
            (
                "filtered: /admin?product=<id> (12 products in turn)",
                lambda i: f"/admin?product={product_ids[i % len(product_ids)]}",
                {},
            ),
            (
                "filtered: /admin?status=resolved&product=<id> (in turn)",
                lambda i: f"/admin?status=resolved&product={product_ids[i % len(product_ids)]}",
                {},
            ),
            ("load more: 2nd page from the page-1 link (HX)", None, htmx),
            (
                f"deep page: status=all&after=<key #{args.inquiries // 2:,}> (HX)",
                lambda i: "/admin/inquiries?status=all&after=" + urllib.parse.quote(deep_all),
                htmx,
            ),
            (
                f"deep page: status=pending&after=<key #{pending // 2:,}> (HX)",
                lambda i: "/admin/inquiries?status=pending&after=" + urllib.parse.quote(deep_pending),
                htmx,
            ),
            ("open inquiry: /admin/inquiries/<random id>", lambda i: f"/admin/inquiries/{open_ids[i]}", {}),
            ("JSON API: /api/admin/inquiries?status=pending", lambda i: "/api/admin/inquiries?status=pending", {}),
        ]
        if args.search_requests > 0:
            cases.append(
                (
                    f"(extra) search: /admin?status=all&q={SEARCH_WORD}",
                    lambda i: f"/admin?status=all&q={SEARCH_WORD}",
                    {},
                )
            )

        env = dict(
            env, ACCESS_LOG=access_log, GUNICORN_CMD_ARGS="--access-logformat='%({x-bench-id}i)s %(D)s %(s)s %(B)s'"
        )
        server = LiveServer(env).start()
        client = Client(server.port)
        client.login(email, password)

        # The "Load more" link exactly as page 1 renders it.
        status, page1, _ = client.request("GET", "/admin?status=pending")
        more = re.search(rb'hx-get="(/admin(?:/inquiries)?\?after=[^"]+)"', page1)
        if status != 200 or not more:
            raise RuntimeError("page 1 has no Load more link")
        load_more = html.unescape(more.group(1).decode())
        rows_page1 = page1.count(b'class="inquiry-row')
        status, page2, _ = client.request("GET", load_more, headers=htmx)
        rows_page2 = page2.count(b'class="inquiry-row')
        print(
            f"page 1: {rows_page1} rows; Load more -> {load_more[:60]}...: HTTP {status}, {rows_page2} rows", flush=True
        )
        cases = [
            (label, lambda i: load_more, h) if label.startswith("load more") else (label, f, h) for label, f, h in cases
        ]

        load_before = os.getloadavg()
        # Round robin over the cases (one request of each in turn), so a burst of load from
        # elsewhere on the machine spreads over all cases instead of landing on one.
        plan = []
        for label, path_for, headers in cases:
            is_search = label.startswith("(extra)")
            measured = min(args.search_requests, args.requests) if is_search else args.requests
            warmup = min(2, args.warmup) if is_search else args.warmup
            plan.append(
                {
                    "label": label,
                    "path_for": path_for,
                    "headers": headers,
                    "measured": measured,
                    "warmup": warmup,
                    "client_ms": [],
                    "statuses": set(),
                    "sizes": [],
                }
            )
        rounds = max(p["warmup"] + p["measured"] for p in plan)
        for i in range(rounds):
            for number, p in enumerate(plan):
                if i >= p["warmup"] + p["measured"]:
                    continue
                measuring = i >= p["warmup"]
                status, body, elapsed = client.request(
                    "GET", p["path_for"](i), headers=p["headers"], tag=f"c{number}-{i}" if measuring else None
                )
                if measuring:
                    p["client_ms"].append(elapsed * 1000)
                    p["statuses"].add(status)
                    p["sizes"].append(len(body))
            if (i + 1) % 50 == 0:
                print(f"  round {i + 1}/{rounds}", flush=True)
        results = []
        profile_paths = []
        for number, p in enumerate(plan):
            server_ms = list(read_access_log(access_log, f"c{number}-", p["measured"]).values())
            if len(server_ms) != p["measured"]:
                print(f"  warning: {len(server_ms)} of {p['measured']} access log lines for {p['label']}")
            results.append(
                (p["label"], len(server_ms), server_ms, p["client_ms"], p["statuses"], statistics.mean(p["sizes"]))
            )
            profile_paths.append(
                (
                    p["label"],
                    f"/admin/inquiries/{profile_open}" if "open inquiry" in p["label"] else p["path_for"](0),
                    p["headers"],
                )
            )
        server.stop()
        server = None
        load_after = os.getloadavg()

        # -- report --
        print()
        print(
            f"## {args.inquiries:,} inquiries / {filler.messages_total:,} messages, fill {fill_seconds:.0f} s"
            + (" (with --what-if-indexes)" if args.what_if_indexes else "")
        )
        print()
        print(
            "SERVER time (gunicorn request time %(D)s; 1 gevent worker, sequential, 1 keep-alive client; "
            f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after)"
        )
        print()
        print("| case | requests | p50 ms | p95 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for label, n, server_ms, _, statuses, _ in results:
            bad = "" if statuses == {200} else f" **HTTP {sorted(statuses)}**"
            print(
                f"| {label}{bad} | {n} | {percentile(server_ms, 50):.1f} | {percentile(server_ms, 95):.1f} "
                f"| {max(server_ms):.1f} |"
            )
        print()
        print("Loopback wall time seen by the client (same requests)")
        print()
        print("| case | p50 ms | p95 ms | max ms | response KB |")
        print("|---|---:|---:|---:|---:|")
        for label, _, _, client_ms, _, size in results:
            print(
                f"| {label} | {percentile(client_ms, 50):.1f} | {percentile(client_ms, 95):.1f} "
                f"| {max(client_ms):.1f} | {size / 1024:.0f} |"
            )

        if not args.no_profile:
            print()
            print(
                "SQL per request (one in-process request per case, Flask test client, same DB; "
                "times include the round trip to MariaDB)"
            )
            profiler = Profiler(url, email, password)
            explain_conn = mysql_connect(args, name)
            seen = {}
            for label, path, headers in profile_paths:
                profiler.profile(path, headers)  # warm
                status, size, total, statements = profiler.profile(path, headers)
                db_ms = sum(s[2] for s in statements)
                print()
                print(f"### {label}: {path[:90]}")
                print(f"HTTP {status}, {len(statements)} statements, {db_ms:.1f} ms in SQL of {total:.1f} ms")
                shapes = {}
                for statement, parameters, ms in statements:
                    entry = shapes.setdefault(short_sql(statement), [0, 0.0, 0.0, statement, parameters])
                    entry[0] += 1
                    entry[1] += ms
                    entry[2] = max(entry[2], ms)
                for shape, (count, total_ms, max_ms, statement, parameters) in sorted(
                    shapes.items(), key=lambda item: -item[1][1]
                ):
                    print(f"  {count:3d}x {total_ms:8.2f} ms (max {max_ms:6.2f})  {shape}")
                    key = (re.sub(r"\s+", " ", statement), repr(parameters))
                    if statement.lstrip().upper().startswith("SELECT") and key not in seen:
                        seen[key] = True
                        for row in explain(explain_conn, statement, parameters):
                            print(
                                f"        EXPLAIN {row['select_type']} {row['table']}: type={row['type']} "
                                f"key={row['key']} rows={row['rows']} extra={row['Extra']}"
                            )
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept database {name}: {url}")
        else:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
            print(f"dropped database {name}")
        admin.close()
        for leftover in pathlib.Path(tmp).glob("*"):
            leftover.unlink()
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
