"""Race-safe "get or create" for rows with a unique key (a shopper, a placeholder
product, an inquiry), without savepoints.

Two first messages can race to create the same row. Instead of catching the
unique-key error (which would need a savepoint, and pysqlite's savepoints
commit when released), the insert itself skips a duplicate: SQLite's
``ON CONFLICT DO NOTHING``, MariaDB's ``INSERT IGNORE``. The row is then read
with a locking read, which on MariaDB sees the other request's committed row
(its repeatable-read snapshot, taken earlier, would not).
"""

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from ..extensions import db


def insert_if_absent(model, **values):
    """Insert a row unless its unique key exists already; True if this call inserted it."""
    table = model.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect in ("mysql", "mariadb"):
        statement = mysql.insert(table).values(**values).prefix_with("IGNORE")
    else:  # pragma: no cover - only SQLite and MariaDB/MySQL are supported
        statement = sa.insert(table).values(**values)
    return db.session.execute(statement).rowcount == 1


def locked(query):
    """``query``'s row, read so that MariaDB sees rows other transactions committed."""
    return db.session.scalar(query.with_for_update(read=True))
