"""Full-text search behind one function per use, on both databases.

- MariaDB: an InnoDB FULLTEXT index, queried with ``MATCH ... AGAINST`` in
  boolean mode (every word required, each as a prefix).
- SQLite: an FTS5 table kept in step by triggers (external content: the text
  is stored once, in the real table), queried with ``MATCH``.

Queries are built from the words of what the user typed (letters and digits
only), so nothing they type is FTS syntax. MariaDB ignores words shorter than
``innodb_ft_min_token_size`` (3): such words match by prefix in SQLite only.

The DDL lives here and is attached to the tables' ``after_create`` events (so
``create_all`` in tests builds it); the migrations run the same statements.
"""
import re

import sqlalchemy as sa

from ..extensions import db

MAX_WORDS = 8
MARIADB_MIN_WORD = 3
_WORD = re.compile(r"\w+", re.UNICODE)

# name -> (table, columns): every full-text index this app keeps.
INDEXES = {"product_messages": ("product_messages", ("message_text",)),
           "published_questions": ("published_questions", ("question", "answer"))}


def sqlite_ddl(table, columns):
    fts = f"{table}_fts"
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({cols}, content='{table}', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_au AFTER UPDATE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new}); END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]


def mariadb_ddl(table, columns):
    return [f"CREATE FULLTEXT INDEX ft_{table} ON {table} ({', '.join(columns)})"]


def ddl_for(dialect, table, columns):
    if dialect == "sqlite":
        return sqlite_ddl(table, columns)
    if dialect in ("mysql", "mariadb"):
        return mariadb_ddl(table, columns)
    return []


def is_search_table(name):
    """FTS5 tables and their shadow tables: not part of the models' metadata."""
    return any(name.startswith(f"{table}_fts") for table, _ in INDEXES.values())


def is_search_object(name, type_):
    """For schema comparisons (Alembic): full-text objects are managed here, not by the models."""
    return (type_ == "table" and is_search_table(name)) or (type_ == "index" and (name or "").startswith("ft_"))


_installed = set()


def install(metadata):
    """Build the full-text indexes whenever ``create_all`` builds their tables (once per metadata)."""
    if id(metadata) in _installed:
        return
    _installed.add(id(metadata))
    for table, columns in INDEXES.values():
        def create(target, connection, table=table, columns=columns, **kw):
            for statement in ddl_for(connection.dialect.name, table, columns):
                connection.exec_driver_sql(statement)
        sa.event.listen(metadata.tables[table], "after_create", create)


def words(text):
    return _WORD.findall(text or "")[:MAX_WORDS]


def matching(table, text, result_column="id"):
    """A subquery of ``result_column`` of the ``table`` rows containing every word of
    ``text`` (each as a prefix), or None when ``text`` has no word the index can use."""
    found = words(text)
    dialect = db.session.get_bind().dialect.name
    rows = db.metadata.tables[table]
    if dialect == "sqlite":
        if not found:
            return None
        query = " ".join('"' + w + '"*' for w in found)  # words hold no quotes: \w+ only
        hits = sa.select(sa.column("rowid")).select_from(sa.table(f"{table}_fts")).where(
            sa.text(f"{table}_fts MATCH :fts_query").bindparams(fts_query=query))
        return sa.select(rows.c[result_column]).where(rows.c.id.in_(hits))
    usable = [w for w in found if len(w) >= MARIADB_MIN_WORD]
    if not usable:
        return None
    cols = ", ".join(INDEXES[table][1])
    return sa.select(rows.c[result_column]).where(
        sa.text(f"MATCH ({cols}) AGAINST (:ft_query IN BOOLEAN MODE)")
        .bindparams(ft_query=" ".join(f"+{w}*" for w in usable)))


def ranked(table, text, skip=frozenset()):
    """Narrow a ``select`` over ``table`` to the rows containing *any* word of ``text``
    (each as a prefix; words in ``skip`` left out), best match first: returns a
    function ``apply(statement) -> statement``, or None when no word is usable.

    For suggestions while someone types a whole sentence, where requiring every
    word (``matching``) would find nothing.
    """
    found = [w for w in words(text) if w.lower() not in skip]
    dialect = db.session.get_bind().dialect.name
    rows = db.metadata.tables[table]
    if dialect == "sqlite":
        if not found:
            return None
        fts = f"{table}_fts"
        # bm25() is lower for better matches; words hold no quotes (\w+ only).
        hits = sa.text(f"SELECT rowid AS id, bm25({fts}) AS rank FROM {fts} WHERE {fts} MATCH :fts_any").bindparams(
            fts_any=" OR ".join('"' + w + '"*' for w in found)).columns(id=sa.Integer, rank=sa.Float).subquery()
        return lambda statement: statement.join(hits, hits.c.id == rows.c.id).order_by(hits.c.rank)
    usable = [w for w in found if len(w) >= MARIADB_MIN_WORD]
    if not usable:
        return None
    # Boolean mode without operators: any word; its relevance ranks rows with more (and rarer) words
    # first. Kept in the statement itself (not a derived table), so the other conditions filter the
    # same index scan.
    match = f"MATCH ({', '.join(INDEXES[table][1])}) AGAINST (:ft_any IN BOOLEAN MODE)"
    query = " ".join(f"{w}*" for w in usable)
    return lambda statement: statement.where(sa.text(match).bindparams(ft_any=query)).order_by(
        sa.text(f"{match} DESC").bindparams(ft_any=query))
