"""a word index for the admin list's search, replacing the FULLTEXT index on messages

Revision ID: 5e7a2c9d4f10
Revises: c3d1a7e9b2f4
Create Date: 2026-11-26 15:00:00

"""
import importlib.util
import pathlib
import re
import unicodedata

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


# revision identifiers, used by Alembic.
revision = '5e7a2c9d4f10'
down_revision = 'c3d1a7e9b2f4'
branch_labels = None
depends_on = None

BATCH = 2000  # inquiries per read of their messages

# How chat/services/search.py folds words today (copied: a migration is a snapshot of its day).
_WORD = re.compile(r"\w+", re.UNICODE)


def _words(text):
    folded = set()
    for word in _WORD.findall(text or ""):
        decomposed = unicodedata.normalize("NFKD", word.casefold())
        folded.add("".join(c for c in decomposed if not unicodedata.combining(c))[:40])
    return folded - {""}


def upgrade():
    op.create_table(
        'inquiry_words',
        sa.Column('inquiry_id', sa.Integer(), nullable=False),
        sa.Column('word', sa.String(length=40).with_variant(mysql.VARCHAR(length=40, collation='utf8mb4_bin'),
                                                            'mysql', 'mariadb'), nullable=False),
        sa.ForeignKeyConstraint(['inquiry_id'], ['product_inquiries.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('inquiry_id', 'word'),
    )
    with op.batch_alter_table('inquiry_words', schema=None) as batch_op:
        batch_op.create_index('idx_word_inquiry', ['word', 'inquiry_id'], unique=False)
    _index_every_message()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS product_messages_fts_{name}")
        op.execute("DROP TABLE IF EXISTS product_messages_fts")
    elif dialect in ("mysql", "mariadb"):
        op.execute("DROP INDEX ft_product_messages ON product_messages")


def _index_every_message():
    """Each inquiry's words, a batch of inquiries at a time (the table starts empty)."""
    bind = op.get_bind()
    words = sa.table('inquiry_words', sa.column('inquiry_id'), sa.column('word'))
    last = 0
    while True:
        ids = bind.execute(sa.text("SELECT id FROM product_inquiries WHERE id > :last ORDER BY id LIMIT :n"),
                           {"last": last, "n": BATCH}).scalars().all()
        if not ids:
            return
        found = {}
        for inquiry_id, text in bind.execute(sa.text(
                "SELECT inquiry_id, message_text FROM product_messages WHERE inquiry_id BETWEEN :lo AND :hi"),
                {"lo": ids[0], "hi": ids[-1]}):
            found.setdefault(inquiry_id, set()).update(_words(text))
        rows = [{"inquiry_id": i, "word": w} for i, found_words in found.items() for w in sorted(found_words)]
        if rows:
            bind.execute(words.insert(), rows)
        last = ids[-1]


def downgrade():
    # The FULLTEXT index as a53f81df57ff built it.
    path = pathlib.Path(__file__).with_name("a53f81df57ff_full_text_search_over_messages_drop_.py")
    spec = importlib.util.spec_from_file_location("full_text_migration", path)
    full_text = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(full_text)
    dialect = op.get_bind().dialect.name
    for statement in (full_text.SQLITE if dialect == "sqlite"
                      else full_text.MARIADB if dialect in ("mysql", "mariadb") else []):
        op.execute(statement)
    with op.batch_alter_table('inquiry_words', schema=None) as batch_op:
        batch_op.drop_index('idx_word_inquiry')
    op.drop_table('inquiry_words')
