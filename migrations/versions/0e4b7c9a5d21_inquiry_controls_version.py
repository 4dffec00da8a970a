"""inquiry controls version: the changes of an inquiry's controls are numbered, so a page keeps the newer of two

Revision ID: 0e4b7c9a5d21
Revises: d5f8b3a6c1e7
Create Date: 2026-12-07 05:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0e4b7c9a5d21'
down_revision = 'd5f8b3a6c1e7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('controls_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.drop_column('controls_version')
