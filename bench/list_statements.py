"""Prints how many SQL statements one admin list page costs, for several page sizes.

    .venv/bin/python bench/list_statements.py

The count must not grow with the page size (no N+1): counts and previews come
from grouped queries (chat/services/inquiries.py, rows_for).
"""

import os
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa  # noqa: E402

from chat import create_app  # noqa: E402
from chat.demo import seed_demo  # noqa: E402
from chat.extensions import db  # noqa: E402
from chat.services import conversations  # noqa: E402
from config import TestingConfig  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as tmp:

        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp}/bench.sqlite"
            WTF_CSRF_ENABLED = False

        app = create_app(Config)
        app.instance_path = tmp
        with app.app_context():
            db.create_all()
            email, password = seed_demo()
            for i in range(150):
                conversations.send_customer_message(1 + i % 12, uuid.uuid4().hex, f"question {i}")
            engine = db.engine
        client = app.test_client()
        client.post("/admin/login", data={"email": email, "password": password})
        print("| page size | rows shown | SQL statements |\n| --- | --- | --- |")
        for size in (5, 50, 100):
            app.config["ADMIN_PAGE_SIZE"] = size
            statements = []

            def count(*args, statements=statements):
                statements.append(args[2])

            sa.event.listen(engine, "before_cursor_execute", count)
            body = client.get("/admin?status=all").get_data(as_text=True)
            sa.event.remove(engine, "before_cursor_execute", count)
            rows = body.count('<tr id="inq-')
            print(f"| {size} | {rows} | {len(statements)} |")


if __name__ == "__main__":
    main()
