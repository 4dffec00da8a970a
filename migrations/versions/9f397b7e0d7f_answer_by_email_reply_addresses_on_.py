"""answer by email: reply addresses on outbox mails, inbound mails by message id

Revision ID: 9f397b7e0d7f
Revises: a32ab52cca45
Create Date: 2026-12-06 11:06:11.549682

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '9f397b7e0d7f'
down_revision = 'a32ab52cca45'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbound_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_key', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql'), nullable=False),
    sa.ForeignKeyConstraint(['inquiry_id'], ['product_inquiries.id'], name=op.f('fk_inbound_emails_inquiry_id_product_inquiries'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_emails')),
    sa.UniqueConstraint('message_key', name=op.f('uq_inbound_emails_message_key'))
    )
    with op.batch_alter_table('inbound_emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_emails_inquiry_id'), ['inquiry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_emails_received_at'), ['received_at'], unique=False)

    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_to', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_column('reply_to')

    with op.batch_alter_table('inbound_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_emails_received_at'))
        batch_op.drop_index(batch_op.f('ix_inbound_emails_inquiry_id'))

    op.drop_table('inbound_emails')
