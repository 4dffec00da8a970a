"""inquiry message counts: the admin list's counts kept on the inquiry (a live list row carries them, no COUNT per message)

Revision ID: d5f8b3a6c1e7
Revises: a9c4e6f1d2b8
Create Date: 2026-12-06 20:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'd5f8b3a6c1e7'
down_revision = 'a9c4e6f1d2b8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('unread_count', sa.Integer(), server_default='0', nullable=False))
    # What the list counted until now: every message, and the customer's not yet read.
    op.execute(
        "UPDATE product_inquiries SET"
        " message_count = (SELECT count(m.id) FROM product_messages m WHERE m.inquiry_id = product_inquiries.id),"
        " unread_count = (SELECT count(m.id) FROM product_messages m WHERE m.inquiry_id = product_inquiries.id"
        " AND m.sender_type = 'customer' AND m.is_read = false)"
    )


def downgrade():
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.drop_column('unread_count')
        batch_op.drop_column('message_count')
