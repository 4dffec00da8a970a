"""The response metrics (service, page, CSV, JSON) on a big MariaDB database.

    .venv/bin/python bench/metrics.py                 # 100,000 inquiries, 1,000,000 messages
    .venv/bin/python bench/metrics.py --quick         # 10,000 inquiries, 100,000 messages
    .venv/bin/python bench/metrics.py --inquiries 100000 --messages-per-inquiry 3 --runs 50
    .venv/bin/python bench/metrics.py --keep            # then: --database bench_metrics_... --password ...

A benchmark, not a test: it prints figures and never passes or fails.

1. Creates a fresh database ``bench_metrics_<random>`` on MariaDB at
   127.0.0.1:3306 (root, no password), builds the schema with the app's own
   migrations (``flask db upgrade``) and seeds the demo shop (12 products);
   a second site takes 4 of the products; 5 admins.
2. Bulk-inserts (PyMySQL ``executemany``) inquiries spread over the last 365
   days (so 90 days hold about a quarter), 85 % answered with a
   first_response_seconds of 30 s - 8 h, 35 % of those rated (80 % good), 3 %
   waiting now, 60 % assigned; messages per inquiry alternating customer/shop;
   1,000 published questions and 20,000 suggestion views (half of them by a
   shopper who also asked).
3. Times, in-process on that database (Flask test client, logged-in admin,
   no server in between), ``--runs`` runs after 3 warm-ups, round robin:
   the service ``metrics.compute`` for 90 days (all sites, one site), and
   ``GET /admin/metrics?days=90``, ``/admin/metrics.csv?days=90``,
   ``/api/admin/metrics?days=90``. Prints p50/p95/max in ms.
4. Prints every SELECT one compute() runs with its time and EXPLAIN.
5. Drops the database (unless --keep).
"""

import argparse
import math
import os
import pathlib
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymysql  # noqa: E402

BIN = ROOT / ".venv" / "bin"


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def connect(database=None):
    return pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=database, charset="utf8mb4", autocommit=False
    )


def schema(name):
    url = f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    env = dict(os.environ, DATABASE_URL=url, CHAT_CONFIG="production", SECRET_KEY="bench", PYTHONPATH=str(ROOT))
    env.pop("REDIS_URL", None)
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    subprocess.run(flask + ["db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run(
        flask + ["chat", "seed-demo"], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return url, out.split("Admin login: admin@example.com / ")[1].split()[0]


def fill(conn, args):
    rng = random.Random(42)
    now = datetime.now(UTC).replace(tzinfo=None)
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO sites (public_id, name, allowed_origins, identity_secret, created_at, timezone) "
        "VALUES ('bench2', 'Second shop', '', REPEAT('a', 64), %s, 'Europe/Berlin')",
        (now,),
    )
    cur.execute("SELECT id FROM sites WHERE public_id = 'bench2'")
    second = cur.fetchone()[0]
    cur.execute("SELECT id FROM products ORDER BY id")
    products = [row[0] for row in cur.fetchall()]
    cur.execute(f"UPDATE products SET site_id = %s WHERE id IN ({','.join(map(str, products[-4:]))})", (second,))
    for i in range(4):
        cur.execute(
            "INSERT INTO users (email, name, password_hash, is_active, created_at) VALUES (%s, %s, 'x', 1, %s)",
            (f"bench{i}@example.com", f"Bench admin {i}", now),
        )
    cur.execute("SELECT id FROM users")
    admins = [row[0] for row in cur.fetchall()]
    conn.commit()

    n, per = args.inquiries, args.messages_per_inquiry
    inquiry_sql = (
        "INSERT INTO product_inquiries (id, product_id, session_id, status, priority, created_at, "
        "updated_at, assigned_admin_id, last_message_at, waiting_since, queue_key, first_response_at, "
        "first_response_seconds, rating, rated_at) VALUES "
        "(%s,%s,%s,%s,'medium',%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    )
    message_sql = (
        "INSERT INTO product_messages (inquiry_id, sender_type, message_text, message_type, is_read, "
        "created_at, visibility) VALUES (%s,%s,%s,'text',1,%s,'public')"
    )
    sessions = []
    started = time.perf_counter()
    batch_i, batch_m = [], []
    for inquiry_id in range(1, n + 1):
        created = now - timedelta(seconds=rng.randrange(365 * 86400))
        session = uuid.UUID(int=rng.getrandbits(128)).hex
        product = rng.choice(products)
        sessions.append((session, product, created))
        answered = rng.random() < 0.85
        seconds = int(30 * (960 ** rng.random())) if answered else None  # 30 s .. 8 h, skewed short
        waiting = rng.random() < 0.03
        rating = ("good" if rng.random() < 0.8 else "bad") if answered and rng.random() < 0.35 else None
        last = created + timedelta(minutes=per * 3)
        batch_i.append(
            (
                inquiry_id,
                product,
                session,
                "resolved" if answered and not waiting else "pending",
                created,
                last,
                rng.choice(admins) if rng.random() < 0.6 else None,
                last,
                last if waiting else None,
                f"{inquiry_id:027d}",
                created + timedelta(seconds=seconds) if answered else None,
                seconds,
                rating,
                last if rating else None,
            )
        )
        for m in range(per):
            batch_m.append(
                (
                    inquiry_id,
                    "customer" if m % 2 == 0 else "admin",
                    "Is it waterproof?" if m % 2 == 0 else "Yes, fully.",
                    created + timedelta(minutes=3 * m),
                )
            )
        if len(batch_i) >= 5000:
            cur.executemany(inquiry_sql, batch_i)
            cur.executemany(message_sql, batch_m)
            conn.commit()
            batch_i, batch_m = [], []
            print(
                f"  {inquiry_id:,} inquiries, {inquiry_id * per:,} messages, {time.perf_counter() - started:.0f} s",
                flush=True,
            )
    if batch_i:
        cur.executemany(inquiry_sql, batch_i)
        cur.executemany(message_sql, batch_m)
    cur.executemany(
        "INSERT INTO published_questions (product_id, question, answer, created_at, updated_at) "
        "VALUES (%s, 'Waterproof?', 'Yes.', %s, %s)",
        [(rng.choice(products), now, now) for _ in range(1000)],
    )
    cur.execute("SELECT id, product_id FROM published_questions")
    questions = cur.fetchall()
    views = []
    for i in range(20000):
        question, product = rng.choice(questions)
        if i % 2:  # a shopper who also asked (about this product or not)
            session, product, created = rng.choice(sessions)
            at = created - timedelta(minutes=rng.choice((-5, 5)))
        else:
            session, at = uuid.UUID(int=rng.getrandbits(128)).hex, now - timedelta(seconds=rng.randrange(365 * 86400))
        views.append((question, product, session, at))
    cur.executemany(
        "INSERT INTO suggestion_views (question_id, product_id, session_id, created_at) VALUES (%s, %s, %s, %s)", views
    )
    conn.commit()
    cur.execute("ANALYZE TABLE product_inquiries, product_messages, suggestion_views")
    cur.fetchall()
    return time.perf_counter() - started


def measure(url, password, args):
    from chat import create_app
    from chat.extensions import db
    from chat.services import metrics
    from config import TestingConfig
    from tests.chat_helpers import admin_login

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(Config)
    client = app.test_client()
    admin_login(client, "admin@example.com", password)
    times = {}

    def service(site=None):
        def run():
            with app.app_context():
                args_ = {"days": "90", **({"site": site} if site else {})}
                metrics.compute(metrics.period_from(args_))
                db.session.remove()

        return run

    def get(path):
        def run():
            response = client.get(path)
            assert response.status_code == 200, response.status_code

        return run

    cases = {
        "compute() 90 days, all sites": service(),
        "compute() 90 days, one site": service("demo"),
        "GET /admin/metrics?days=90": get("/admin/metrics?days=90"),
        "GET /admin/metrics.csv?days=90": get("/admin/metrics.csv?days=90"),
        "GET /api/admin/metrics?days=90": get("/api/admin/metrics?days=90"),
    }
    for _ in range(3):
        for run in cases.values():
            run()
    for _ in range(args.runs):
        for name, run in cases.items():
            started = time.perf_counter()
            run()
            times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    print(f"\n{'case':<36} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   ({args.runs} runs each)")
    for name, values in times.items():
        print(f"{name:<36} {statistics.median(values):8.1f} {percentile(values, 95):8.1f} {max(values):8.1f}")

    with app.app_context():
        statements = []
        import sqlalchemy as sa

        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def keep(conn, cursor, statement, parameters, context, executemany):
            conn.info["t"] = time.perf_counter()

        @sa.event.listens_for(db.engine, "after_cursor_execute")
        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters, (time.perf_counter() - conn.info["t"]) * 1000))

        metrics.compute(metrics.period_from({"days": "90"}))
        sa.event.remove(db.engine, "before_cursor_execute", keep)
        sa.event.remove(db.engine, "after_cursor_execute", record)
        print(f"\nSQL of one compute(): {len(statements)} statements")
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters, ms in statements:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                print(f"\n-- {ms:.1f} ms: {' '.join(statement.split())[:300]}")
                cursor.execute("EXPLAIN " + statement, parameters)
                for row in cursor.fetchall():
                    # id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
                    print("   ", " | ".join(str(v) for v in (row[1], row[2], row[3], row[5], row[8], row[9])))
        finally:
            raw.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inquiries", type=int, default=100_000)
    parser.add_argument("--messages-per-inquiry", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="10,000 inquiries, 100,000 messages")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument(
        "--database", help="measure again on a database an earlier --keep run filled (its admin password as --password)"
    )
    parser.add_argument("--password", help="the demo admin's password of --database")
    args = parser.parse_args()
    if args.database:
        measure(f"mysql+pymysql://root@127.0.0.1:3306/{args.database}?charset=utf8mb4", args.password, args)
        return
    if args.quick:
        args.inquiries = 10_000
    name = "bench_metrics_" + uuid.uuid4().hex[:8]
    conn = connect()
    conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    try:
        print(f"database {name}: schema (flask db upgrade, seed-demo)", flush=True)
        url, password = schema(name)
        conn = connect(name)
        print(
            f"filling {args.inquiries:,} inquiries, {args.inquiries * args.messages_per_inquiry:,} messages", flush=True
        )
        seconds = fill(conn, args)
        conn.close()
        print(f"filled in {seconds:.0f} s" + (f"; admin password {password}" if args.keep else ""))
        measure(url, password, args)
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            conn = connect()
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()
            print(f"dropped database {name}")


if __name__ == "__main__":
    main()
