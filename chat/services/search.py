"""Full-text search behind one function per use, on both databases.

Two kinds of index:

- The admin list's search (``inquiries_with``): our own word index,
  ``inquiry_words`` (one row per inquiry and folded word), written with each
  message. A search walks the queue and probes each inquiry's words, or starts
  from a rare word's few inquiries: both cost about a page, however common the
  word. InnoDB's FULLTEXT index cost 0.5 s for a word in one message in ten at
  1,000,000 messages, because it hands over every match before the first row.
- Suggested answers (``ranked``), which need relevance: MariaDB's InnoDB
  FULLTEXT index (``MATCH ... AGAINST`` in boolean mode) and SQLite's FTS5 (an
  external-content table kept in step by triggers).

Queries are built from the words of what the user typed (letters and digits
only), so nothing they type is query syntax. MariaDB's FULLTEXT ignores words
shorter than ``innodb_ft_min_token_size`` (3): such words match by prefix in
SQLite only.

The FULLTEXT DDL lives here and is attached to the tables' ``after_create``
events (so ``create_all`` in tests builds it); the migrations run the same
statements.
"""

import re
import unicodedata

import sqlalchemy as sa

from ..extensions import db
from ..models import InquiryWord

MAX_WORDS = 8
MARIADB_MIN_WORD = 3
_WORD = re.compile(r"\w+", re.UNICODE)

# name -> (table, columns): every full-text index this app keeps.
INDEXES = {"published_questions": ("published_questions", ("question", "answer"))}


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
        hits = (
            sa.text(f"SELECT rowid AS id, bm25({fts}) AS rank FROM {fts} WHERE {fts} MATCH :fts_any")
            .bindparams(fts_any=" OR ".join('"' + w + '"*' for w in found))
            .columns(id=sa.Integer, rank=sa.Float)
            .subquery()
        )
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
        sa.text(f"{match} DESC").bindparams(ft_any=query)
    )


# -- the admin list's word index ------------------------------------------------------

WORD_LENGTH = 40  # InquiryWord.word; longer words are kept (and searched) by their start
# A term with fewer index entries than this is searched from its inquiries; a
# commoner one by walking the queue, where about one inquiry in (inquiries /
# entries) has it: a page of 50 takes at most a few thousand index probes
# (15 ms at 100,000 inquiries), and fewer the commoner the word.
RARE = 2000
# The queue rows one page of a search by common words looks at, in growing windows
# (5,000 in all): two words that are common alone but rare together (or never
# together) would otherwise walk the whole queue (3 s at 100,000 inquiries). The
# page then ends there, and "Load more" searches on from that row.
WINDOWS = (250, 1000, 3750)
_LAST = "\U0010ffff"  # sorts after every character: [p, p + _LAST) holds the words starting with p


def fold(word):
    """A word as it is indexed and searched: case-folded, without accents, at most WORD_LENGTH."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))[:WORD_LENGTH]


def _folded(found):
    return sorted({fold(w) for w in found} - {""})


def indexed_words(text):
    """The distinct folded words of a message, sorted (so concurrent writers lock in one order)."""
    return _folded(_WORD.findall(text or ""))


def index_message(inquiry_id, text):
    """Add a new message's words to its inquiry's (in the caller's transaction)."""
    found = indexed_words(text)
    if found:
        db.session.execute(_insert_words(), [{"inquiry_id": inquiry_id, "word": w} for w in found])


def _insert_words():
    # A word the inquiry already has is skipped; nothing else can fail here.
    return (
        sa.insert(InquiryWord.__table__)
        .prefix_with("OR IGNORE", dialect="sqlite")
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("IGNORE", dialect="mariadb")
    )


def terms(text):
    """The folded words of a search (each one required, each a prefix)."""
    return _folded(words(text))


def _starts_with(term):
    return sa.and_(InquiryWord.word >= term, InquiryWord.word < term + _LAST)


def _has(inquiry_id, term):
    # A scalar subquery with LIMIT, not EXISTS: MariaDB turns EXISTS into a semi-join
    # that first collects every inquiry with the word (665,000 entries for "w": 140 ms);
    # this stays one index probe per row the list looks at.
    return (
        sa.select(sa.literal(1))
        .where(InquiryWord.inquiry_id == inquiry_id, _starts_with(term))
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )


def inquiries_with(inquiry_id, text):
    """A condition on ``inquiry_id`` (a column): the inquiry's messages hold every word
    of ``text`` (each as a prefix), or None when ``text`` has no word. One index probe
    per word and row: for a few given rows (is this live row still in the list?)."""
    found = terms(text)
    return _has_all(inquiry_id, found) if found else None


def _has_all(inquiry_id, found):
    return sa.and_(*(_has(inquiry_id, t) for t in found))


def plan(text):
    """How a whole list finds the inquiries whose messages hold every word of ``text``:
    ``(condition, walks)``, ``condition(column)`` being a condition on an inquiry id
    column; None when ``text`` has no word.

    First a look at how common each word is (a count of at most RARE index entries
    each). When one is rare, the condition starts from its inquiries (a subquery the
    database collects first) and probes them for the others: ``walks`` is False.
    Otherwise every row is probed (``walks``): the caller gives it windows of the
    queue (WINDOWS), since words that are common alone may be rare together.
    """
    found = terms(text)
    if not found:
        return None
    counts = {
        term: db.session.scalar(
            sa.select(sa.func.count()).select_from(
                sa.select(InquiryWord.inquiry_id).where(_starts_with(term)).limit(RARE).subquery()
            )
        )
        for term in found
    }
    rarest = min(found, key=counts.get)
    if counts[rarest] < RARE:
        ids = sa.select(InquiryWord.inquiry_id).where(_starts_with(rarest))
        return (lambda column: sa.and_(column.in_(ids), *(_has(column, t) for t in found if t != rarest))), False
    return (lambda column: _has_all(column, found)), True
