"""full-text search over messages; drop indexes that others cover

Revision ID: a53f81df57ff
Revises: e8b56fc5e8c5
Create Date: 2026-11-26 05:14:10.949457

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a53f81df57ff'
down_revision = 'e8b56fc5e8c5'
branch_labels = None
depends_on = None


# The same statements as chat/services/search.py builds for create_all (copied: a
# migration is a snapshot of its day).
SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS product_messages_fts USING fts5(message_text, content='product_messages', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS product_messages_fts_ai AFTER INSERT ON product_messages BEGIN "
    "INSERT INTO product_messages_fts(rowid, message_text) VALUES (new.id, new.message_text); END",
    "CREATE TRIGGER IF NOT EXISTS product_messages_fts_ad AFTER DELETE ON product_messages BEGIN "
    "INSERT INTO product_messages_fts(product_messages_fts, rowid, message_text) "
    "VALUES ('delete', old.id, old.message_text); END",
    "CREATE TRIGGER IF NOT EXISTS product_messages_fts_au AFTER UPDATE ON product_messages BEGIN "
    "INSERT INTO product_messages_fts(product_messages_fts, rowid, message_text) "
    "VALUES ('delete', old.id, old.message_text); "
    "INSERT INTO product_messages_fts(rowid, message_text) VALUES (new.id, new.message_text); END",
    "INSERT INTO product_messages_fts(product_messages_fts) VALUES ('rebuild')",
]
MARIADB = ["CREATE FULLTEXT INDEX ft_product_messages ON product_messages (message_text)"]


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in SQLITE if dialect == "sqlite" else MARIADB if dialect in ("mysql", "mariadb") else []:
        op.execute(statement)
    # idx_status is the first column of idx_status_queue; idx_product_session is the
    # unique key uq_inquiry_product_session: each one index too many to keep up.
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.drop_index('idx_status')
        batch_op.drop_index('idx_product_session')


def downgrade():
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.create_index('idx_product_session', ['product_id', 'session_id'], unique=False)
        batch_op.create_index('idx_status', ['status'], unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS product_messages_fts_{name}")
        op.execute("DROP TABLE IF EXISTS product_messages_fts")
    elif dialect in ("mysql", "mariadb"):
        op.execute("DROP INDEX ft_product_messages ON product_messages")
