"""covering indexes for response metrics (replacing idx_created_at)

Revision ID: c3d1a7e9b2f4
Revises: 8d16810b69cb
Create Date: 2026-11-26 08:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3d1a7e9b2f4'
down_revision = '8d16810b69cb'
branch_labels = None
depends_on = None


def upgrade():
    # The new first index starts with created_at, so it serves what idx_created_at did.
    with op.batch_alter_table('product_inquiries') as batch:
        batch.create_index('idx_created_metrics', ['created_at', 'first_response_seconds', 'rating', 'product_id'])
        batch.create_index('idx_product_created_metrics',
                           ['product_id', 'created_at', 'first_response_seconds', 'rating'])
        batch.drop_index('idx_created_at')


def downgrade():
    with op.batch_alter_table('product_inquiries') as batch:
        batch.create_index('idx_created_at', ['created_at'])
        batch.drop_index('idx_product_created_metrics')
        batch.drop_index('idx_created_metrics')
