"""Suggested answers (product Q&A full-text search) with many published questions.

    .venv/bin/python bench/suggestions.py                     # MariaDB, 10,000 published Q&A
    .venv/bin/python bench/suggestions.py --sqlite            # the same on a SQLite file (FTS5)
    .venv/bin/python bench/suggestions.py --questions 50000 --products 200 --queries 2000

A benchmark, not a test: it prints figures and never passes or fails.

1. Creates a fresh database ``bench_qa_<random>`` on MariaDB at 127.0.0.1:3306
   (root, no password; --mysql-url) or a SQLite file in a temp directory, and
   builds the schema with ``create_all`` (which builds the FULLTEXT index /
   FTS5 table exactly as the app does, chat/services/search.py).
2. Adds one site, ``--products`` products and ``--questions`` published Q&A
   spread evenly over them (a tenth withdrawn), generated from a vocabulary of
   shop questions and answers, in bulk INSERTs.
3. Times ``--queries`` suggestions for random products and random texts a
   shopper types (a sentence cut at a random length, as while typing):
   SERVICE = ``chat.services.questions.suggest`` (the SQL and loading rows);
   HTTP = the widget's fragment ``GET /embed/<site>/products/<ext>/suggestions``
   through the whole Flask app in-process (test client: routing, session
   check, template), no network. ``--warmup`` queries first, unmeasured.
4. Drops the database (or deletes the file).
"""

import argparse
import os
import pathlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pymysql  # noqa: E402
import sqlalchemy as sa  # noqa: E402

SUBJECTS = [
    "backpack",
    "jacket",
    "tent",
    "stove",
    "bottle",
    "boots",
    "sleeping bag",
    "headlamp",
    "rain cover",
    "hip belt",
    "zipper",
    "strap",
    "laptop sleeve",
    "frame",
    "mat",
    "pole",
    "lid",
    "pocket",
    "seam",
    "sole",
]
QUESTION_FORMS = [
    "Is the {s} waterproof?",
    "Does the {s} fit a {n} inch laptop?",
    "How heavy is the {s}?",
    "Can I wash the {s} in a machine?",
    "What is the {s} made of?",
    "Does the {s} come in black?",
    "Is the {s} covered by the warranty?",
    "How long does delivery of the {s} take?",
    "Can I replace the {s} myself?",
    "Is the {s} suitable for winter camping?",
    "Does the {s} ship to Austria?",
    "What size is the {s}?",
    "Is there a spare {s}?",
    "Will the {s} survive heavy rain?",
    "How do I clean the {s}?",
]
ANSWERS = [
    "Yes, the {s} is rated for {n},000 mm of water.",
    "The {s} weighs {n}00 g.",
    "It is recycled nylon with a PU coating.",
    "Machine wash at 30 degrees, no softener.",
    "Delivery takes {n} working days within the EU.",
    "Spare parts for the {s} are in our shop.",
    "The warranty covers the {s} for {n} years.",
    "It comes in black, olive and sand.",
]
TYPED = [
    "Is it waterproof",
    "will the jacket keep me dry in rain",
    "how heavy is the tent",
    "does it fit my laptop",
    "can I machine wash the sleeping bag",
    "what is the frame made of",
    "delivery to austria",
    "is there a warranty on the zipper",
    "spare pole for the tent",
    "how do I clean the boots",
    "winter camping with the sleeping bag",
    "black backpack",
    "does the headlamp come in black",
    "replace the strap myself",
    "size of the mat",
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--sqlite", action="store_true", help="SQLite (FTS5) instead of MariaDB")
    parser.add_argument("--mysql-url", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--seed", type=int, default=12)
    return parser.parse_args()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(name, seconds):
    ms = [s * 1000 for s in seconds]
    print(
        f"  {name:8} n={len(ms):5}  p50 {statistics.median(ms):6.2f} ms  p95 {percentile(ms, 95):6.2f} ms  "
        f"p99 {percentile(ms, 99):6.2f} ms  max {max(ms):6.2f} ms"
    )


def fill(db, args, rng):
    from chat.models import Product, PublishedQuestion, Site

    site = Site(public_id="bench", name="Bench Shop", identity_secret=uuid.uuid4().hex)
    db.session.add(site)
    db.session.flush()
    now = datetime(2026, 11, 1)
    db.session.execute(
        sa.insert(Product),
        [
            {
                "site_id": site.id,
                "external_id": f"p{i}",
                "name": f"Product {i}",
                "description": "",
                "currency": "EUR",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(args.products)
        ],
    )
    product_ids = db.session.scalars(sa.select(Product.id).where(Product.site_id == site.id)).all()
    db.session.commit()
    rows, batch = 0, []
    for i in range(args.questions):
        s, n = rng.choice(SUBJECTS), rng.randint(2, 9)
        created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
        batch.append(
            {
                "product_id": product_ids[i % len(product_ids)],
                "question": rng.choice(QUESTION_FORMS).format(s=s, n=n),
                "answer": rng.choice(ANSWERS).format(s=s, n=n) + f" (ref {i})",
                "created_at": created,
                "updated_at": created,
                "withdrawn_at": created if rng.random() < 0.1 else None,
            }
        )
        if len(batch) == 1000:
            db.session.execute(sa.insert(PublishedQuestion), batch)
            db.session.commit()
            rows += len(batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(PublishedQuestion), batch)
        db.session.commit()
        rows += len(batch)
    return product_ids, rows


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="bench-qa-")
    name = None
    if args.sqlite:
        url = f"sqlite:///{tmp}/bench.sqlite"
    else:
        name = "bench_qa_" + uuid.uuid4().hex[:10]
        base = args.mysql_url.rstrip("/")
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()
        url = f"{base}/{name}?charset=utf8mb4"
    try:
        run(args, rng, url)
    finally:
        if name:
            conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()
        for file in pathlib.Path(tmp).glob("*"):
            file.unlink()
        os.rmdir(tmp)


def run(args, rng, url):
    from chat import create_app
    from chat.extensions import db
    from chat.services import questions
    from config import TestingConfig

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        RATELIMIT_ENABLED = False

    app = create_app(Config)
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        product_ids, rows = fill(db, args, rng)
        print(
            f"{db.engine.dialect.name}: {rows:,} published Q&A over {len(product_ids)} products "
            f"(about a tenth withdrawn), filled in {time.perf_counter() - started:.1f} s"
        )

        def typed():
            text = rng.choice(TYPED)
            return text[: rng.randint(max(4, len(text) // 2), len(text))]

        cases = [(rng.choice(product_ids), typed()) for _ in range(args.warmup + args.queries)]
        service, found = [], 0
        for i, (pid, text) in enumerate(cases):
            t0 = time.perf_counter()
            result = questions.suggest(pid, text)
            elapsed = time.perf_counter() - t0
            db.session.rollback()  # a fresh transaction per query, as per request
            if i >= args.warmup:
                service.append(elapsed)
                found += bool(result)
    client = app.test_client()
    http = []
    for i, (pid, text) in enumerate(cases):
        path = f"/embed/bench/products/p{product_ids.index(pid)}/suggestions"
        t0 = time.perf_counter()
        response = client.get(path, query_string={"message_text": text}, headers={"X-Chat-Session": ""})
        elapsed = time.perf_counter() - t0
        assert response.status_code == 200, response.status_code
        if i >= args.warmup:
            http.append(elapsed)
    print(
        f"{args.queries} suggestion queries after {args.warmup} warm-up ones; "
        f"{found / args.queries:.0%} found at least one suggestion"
    )
    summary("SERVICE", service)
    summary("HTTP", http)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
