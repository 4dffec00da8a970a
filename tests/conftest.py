"""Fixtures: a fresh app per test, on SQLite and (when it answers) MariaDB."""

import os

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from chat import create_app
from chat.extensions import db
from config import TestingConfig

from . import backends

BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, connection_record):
    # The tests' SQLite files are thrown away: waiting for the disk at every commit
    # (a fresh schema alone is ~30 of them) made up much of the run. Locking and
    # transactions are unchanged; only a power cut could lose what was written.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def pytest_sessionstart(session):
    # The compiled catalogs are not committed: `make test` compiles them first, and so does
    # a bare `pytest` (the same `pybabel compile`, through Babel's own code).
    from chat.i18n import compile_catalogs

    compile_catalogs()


@pytest.fixture(scope="session")
def mariadb_schema_url():
    """One fresh MariaDB database for the run, with the schema; dropped after."""
    backends.require("mariadb")
    name, url = backends.create_mysql_database()
    app = create_app(_config(url))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    yield url
    backends.drop_mysql_database(name)


def _config(database_url, **overrides):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    for key, value in overrides.items():
        setattr(Config, key, value)
    return Config


def _empty_tables():
    """Every table as new (no rows, ids from 1), truncating only those a test touched:
    a TRUNCATE costs MariaDB a table re-creation, and most tests touch a few of 28."""
    with db.engine.begin() as conn:
        if conn.dialect.name in ("mysql", "mariadb"):
            names = [table.name for table in db.metadata.sorted_tables]
            with_rows = " UNION ALL ".join(f"SELECT '{name}' FROM `{name}` HAVING COUNT(*) > 0" for name in names)
            touched = set(conn.scalars(text(with_rows)))
            # An id handed out and rolled back or deleted leaves no row but moves the counter.
            touched |= set(
                conn.scalars(
                    text(
                        "SELECT TABLE_NAME FROM information_schema.TABLES"
                        " WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT > 1"
                    )
                )
            )
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for name in names:
                if name in touched:
                    conn.execute(text(f"TRUNCATE TABLE `{name}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "chat.sqlite")
    return request.getfixturevalue("mariadb_schema_url")


@pytest.fixture
def app_config(database_url):
    """Override in a test module (or parametrize) to change settings."""
    return {}


@pytest.fixture
def app(database_url, app_config, tmp_path):
    app = create_app(_config(database_url, **app_config))
    app.instance_path = str(tmp_path / "instance")
    os.makedirs(app.instance_path, exist_ok=True)
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        else:
            _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def demo(app):
    """The demo shop's products and admin, seeded through the CLI's code."""
    from chat.demo import seed_demo

    with app.app_context():
        email, password = seed_demo()
    return {"admin_email": email, "admin_password": password}


@pytest.fixture
def admin(app, demo):
    """The demo admin logged in through the real form, plus a second admin, Bo (not logged in).

    Returns (client, csrf token for its posts, {"me": id, "bo": id}); Bo's
    password is ``BO_PASSWORD``.
    """
    import sqlalchemy as sa

    from chat.models import User

    from .chat_helpers import BO_EMAIL, BO_PASSWORD, admin_login

    client = app.test_client()
    token = admin_login(client, demo["admin_email"], demo["admin_password"])
    with app.app_context():
        me = db.session.scalar(sa.select(User))
        bo = User(email=BO_EMAIL, name="Bo")
        bo.set_password(BO_PASSWORD)
        db.session.add(bo)
        db.session.commit()
        ids = {"me": me.id, "bo": bo.id}
    return client, token, ids


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    from .browser import launch

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium):
    """The run's Chromium; whatever windows a test leaves open (a failed one) are closed after it.

    A page left open outlives its server and keeps its scripts running for the
    rest of the run, slowing every later test.
    """
    yield chromium
    for context in list(chromium.contexts):
        context.close()


@pytest.fixture
def shop_server(tmp_path):
    """The real server (gunicorn + gevent) on a seeded SQLite file, for browser tests.

    It uses Redis when it answers (required under CI), so that answers given
    from another process (`flask chat reply`) arrive live.
    """
    import uuid

    from .live_server import LiveServer, demo_admin_password, free_port, prepared_env

    redis_url = backends.REDIS_URL if backends.redis_available() is True else None
    if redis_url is None and backends.IN_CI:
        backends.require("redis")
    port = free_port()
    env = prepared_env(
        tmp_path,
        database_url=f"sqlite:///{tmp_path}/browser.sqlite",
        redis_url=redis_url,
        CHAT_POLL_SECONDS="1",
        LIVE_CHANNEL_PREFIX=f"chat-browser-{uuid.uuid4().hex[:8]}:",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        ACCESS_LOG=str(tmp_path / "access.log"),
    )
    with LiveServer(env, port=port) as server:
        server.has_redis = redis_url is not None
        server.admin_password = demo_admin_password(env)
        yield server
