"""message attachments: one row per file sent with a message (the bytes are in the attachment storage)

Revision ID: 0cf84ac77ded
Revises: 9f397b7e0d7f
Create Date: 2026-12-06 10:18:45.322809

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0cf84ac77ded'
down_revision = '9f397b7e0d7f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('message_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('storage_key', sa.String(length=100), nullable=False),
    sa.Column('thumbnail_key', sa.String(length=100), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql'), nullable=False),
    sa.ForeignKeyConstraint(['inquiry_id'], ['product_inquiries.id'], name=op.f('fk_message_attachments_inquiry_id_product_inquiries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['product_messages.id'], name=op.f('fk_message_attachments_message_id_product_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_attachments')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_message_attachments_storage_key'))
    )
    with op.batch_alter_table('message_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_attachments_inquiry_id'), ['inquiry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_attachments_message_id'), ['message_id'], unique=False)



def downgrade():
    with op.batch_alter_table('message_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_attachments_message_id'))
        batch_op.drop_index(batch_op.f('ix_message_attachments_inquiry_id'))

    op.drop_table('message_attachments')
