"""inquiry last message ids: each live message event names the message before it (a stream renders it from the event when it follows what the stream showed)

Revision ID: a9c4e6f1d2b8
Revises: b7e2d4a91c3f
Create Date: 2026-12-06 20:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'a9c4e6f1d2b8'
down_revision = 'b7e2d4a91c3f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_public_message_id', sa.Integer(), nullable=True))
    # Existing conversations: their newest message of any kind, and the newest a customer sees.
    op.execute(
        "UPDATE product_inquiries SET"
        " last_message_id = (SELECT max(m.id) FROM product_messages m WHERE m.inquiry_id = product_inquiries.id),"
        " last_public_message_id = (SELECT max(m.id) FROM product_messages m"
        " WHERE m.inquiry_id = product_inquiries.id AND m.visibility = 'public')"
    )


def downgrade():
    with op.batch_alter_table('product_inquiries', schema=None) as batch_op:
        batch_op.drop_column('last_public_message_id')
        batch_op.drop_column('last_message_id')
