"""external ids compared exactly on MariaDB

Revision ID: e8b56fc5e8c5
Revises: 8aa29d2d9c97
Create Date: 2026-11-26 05:00:37.655705

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql


# revision identifiers, used by Alembic.
revision = 'e8b56fc5e8c5'
down_revision = '8aa29d2d9c97'
branch_labels = None
depends_on = None


def upgrade():
    # MariaDB's default collation folds case and accents: "abc" and "ABC" would be
    # one product. Binary collation compares the shop's ids exactly (SQLite does already).
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        with op.batch_alter_table('products', schema=None) as batch_op:
            batch_op.alter_column('external_id', existing_type=sa.String(100), existing_nullable=False,
                                  type_=mysql.VARCHAR(100, collation="utf8mb4_bin"))


def downgrade():
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        with op.batch_alter_table('products', schema=None) as batch_op:
            batch_op.alter_column('external_id', existing_type=mysql.VARCHAR(100, collation="utf8mb4_bin"),
                                  existing_nullable=False, type_=sa.String(100))
