"""Prints what the admin list's cursor and catch-up cost on MariaDB.

    .venv/bin/python bench/list_catch_up.py                    # 300,000 messages, 2 / 5 / 300 a second
    .venv/bin/python bench/list_catch_up.py --messages 100000 --rates 1,50

The list's cursor (``inquiries.list_cursor``, taken by every list page and every
catch-up) reads the ids of the last LATE_COMMIT_SECONDS to find one handed out but not
visible yet, so its cost grows with the write rate. For each rate, a fresh MariaDB
database (dropped after) gets --messages messages over 30,000 inquiries, the newest
LATE_COMMIT_SECONDS of them at that rate; then the cursor alone and the catch-up a list
stream runs on opening (``changed_since``, its page's cursor 200 messages back) are
timed, in-process, --repeat times each; then the cursor again with one id of the last
minute missing (a message on its way, or rolled back).
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from statistics import median

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from chat import create_app  # noqa: E402
from chat.extensions import db  # noqa: E402
from chat.models import ProductMessage, utcnow  # noqa: E402
from chat.services import inquiries  # noqa: E402
from config import TestingConfig  # noqa: E402
from tests import backends  # noqa: E402

INQUIRIES = 30_000


def fill(cursor, messages, rate):
    now = utcnow()
    cursor.execute("SET FOREIGN_KEY_CHECKS=0")
    cursor.executemany(
        "insert into product_inquiries (id, product_id, session_id, status, priority, created_at, updated_at,"
        " queue_key) values (%s, 1, %s, 'pending', 'low', %s, %s, '')",
        [(i, f"session-{i}", now, now) for i in range(1, INQUIRIES + 1)],
    )
    batch = []
    for n in range(1, messages + 1):
        created = now - timedelta(seconds=(messages - n) / rate)
        batch.append((random.randint(1, INQUIRIES), created))
        if len(batch) == 20_000 or n == messages:
            cursor.executemany(
                "insert into product_messages (inquiry_id, sender_type, message_text, message_type, is_read,"
                " created_at, visibility) values (%s, 'customer', 'hello', 'text', 0, %s, 'public')",
                batch,
            )
            batch = []
    # Filling takes a while: move every message as much later, so the newest is now.
    late = int((utcnow() - now).total_seconds() * 1_000_000)
    cursor.execute("update product_messages set created_at = created_at + interval %s microsecond", (late,))
    cursor.execute("analyze table product_messages")


def measure(messages, rate, repeat):
    name, url = backends.create_mysql_database()
    try:

        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = url

        app = create_app(Config)
        with app.app_context():
            db.create_all()
            raw = db.engine.raw_connection()
            fill(raw.cursor(), messages, rate)
            raw.commit()
            raw.close()
            since = messages - 200
            cursor_times, catch_up_times = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                cursor = inquiries.list_cursor()
                cursor_times.append((time.perf_counter() - started) * 1000)
                db.session.remove()
                started = time.perf_counter()
                changed, _ = inquiries.changed_since(since)
                catch_up_times.append((time.perf_counter() - started) * 1000)
                db.session.remove()
            # One id handed out and never seen, in the middle of the last minute.
            newest = db.session.scalar(sa.select(sa.func.max(ProductMessage.id)))
            hole = newest - inquiries.LATE_COMMIT_SECONDS * rate // 2
            db.session.execute(sa.delete(ProductMessage).where(ProductMessage.id == hole))
            db.session.commit()
            hole_times = []
            for _ in range(repeat):
                started = time.perf_counter()
                stopped = inquiries.list_cursor()
                hole_times.append((time.perf_counter() - started) * 1000)
                db.session.remove()
            window = db.session.scalar(
                sa.select(sa.func.count(ProductMessage.id)).where(
                    ProductMessage.created_at >= utcnow() - timedelta(seconds=inquiries.LATE_COMMIT_SECONDS)
                )
            )
            db.engine.dispose()
        print(
            f"| {window:,} ({rate:g} a second) | {cursor == messages} | {median(cursor_times):.2f} ms"
            f" | {len(changed)} | {median(catch_up_times):.2f} ms | {stopped == hole - 1} | {median(hole_times):.2f} ms |"
        )
    finally:
        backends.drop_mysql_database(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--rates", default="2,5,300", help="messages a second in the newest window")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"{args.messages:,} messages over {INQUIRIES:,} inquiries; page cursor 200 messages back")
    print(
        "| messages in the last minute | cursor = newest id | list_cursor p50 | rows found | catch-up p50"
        " | with a hole: cursor below it | list_cursor p50 |"
    )
    print("|---:|---|---:|---:|---:|---|---:|")
    for rate in args.rates.split(","):
        measure(args.messages, float(rate), args.repeat)


if __name__ == "__main__":
    main()
