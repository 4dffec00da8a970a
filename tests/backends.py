"""Where the real services are, and whether a run may do without them.

Tests always run on SQLite and the in-process broker, and again on MariaDB
and Redis when they answer. Under CI=true an unreachable server is a failure.
"""

import os
import uuid
from urllib.parse import urlsplit

import pytest

MYSQL_URL = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"

_reachable = {}


def _mysql_connect(database=None):
    import pymysql

    parts = urlsplit(MYSQL_URL.replace("mysql+pymysql", "mysql"))
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database,
        connect_timeout=3,
        autocommit=True,
    )


def mysql_available():
    if "mysql" not in _reachable:
        try:
            _mysql_connect().close()
            _reachable["mysql"] = True
        except Exception as exc:  # noqa: BLE001 - any failure means "not here"
            _reachable["mysql"] = exc
    return _reachable["mysql"]


def redis_available():
    if "redis" not in _reachable:
        try:
            import redis

            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
            _reachable["redis"] = True
        except Exception as exc:  # noqa: BLE001
            _reachable["redis"] = exc
    return _reachable["redis"]


def require(name):
    """Skip (or, under CI, fail) when the named server does not answer."""
    probe = {"mariadb": mysql_available, "redis": redis_available}[name]
    result = probe()
    if result is not True:
        message = f"{name} is not reachable: {result}"
        if IN_CI:
            pytest.fail(message + " (CI=true: the real server is required)")
        pytest.skip(message)


def create_mysql_database():
    """A freshly created, empty MariaDB database; returns (name, url)."""
    name = "chat_test_" + uuid.uuid4().hex[:12]
    conn = _mysql_connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    base = MYSQL_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}?charset=utf8mb4"


def drop_mysql_database(name):
    conn = _mysql_connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def copy_mysql_database(source, target):
    """Every table of ``source`` (its keys, rows and id counters) into the empty ``target``,
    both on this server; False (nothing copied) when ``source`` has more than tables."""
    conn = _mysql_connect(source)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s)"
                " + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s)"
                " + (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE <> 'BASE TABLE')",
                (source, source, source),
            )
            if cur.fetchone()[0]:
                return False
            cur.execute("SHOW TABLES")
            tables = [row[0] for row in cur.fetchall()]
            creates = []
            for table in tables:
                cur.execute(f"SHOW CREATE TABLE `{table}`")
                creates.append(cur.fetchone()[1])
            cur.execute(f"USE `{target}`")
            cur.execute("SET FOREIGN_KEY_CHECKS=0")
            for table, create in zip(tables, creates, strict=True):
                cur.execute(create)
                cur.execute(f"INSERT INTO `{table}` SELECT * FROM `{source}`.`{table}`")
            cur.execute("SET FOREIGN_KEY_CHECKS=1")
        return True
    finally:
        conn.close()


def session_ids(database, inquiry_ids):
    """inquiry id -> its shopper's session id (a shopper's live channel is named after it)."""
    conn = _mysql_connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, session_id FROM product_inquiries WHERE id IN %s", (tuple(inquiry_ids),))
            return dict(cur.fetchall())
    finally:
        conn.close()
