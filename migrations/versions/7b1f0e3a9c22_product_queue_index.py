"""index for one product's whole queue

Revision ID: 7b1f0e3a9c22
Revises: 5e7a2c9d4f10
Create Date: 2026-11-26 15:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7b1f0e3a9c22'
down_revision = '5e7a2c9d4f10'
branch_labels = None
depends_on = None


def upgrade():
    # /admin?product=<id> shows the waiting view (every status): without this index
    # MariaDB walked the whole queue for the product's rows.
    with op.batch_alter_table('product_inquiries') as batch:
        batch.create_index('idx_product_queue', ['product_id', 'queue_key'])


def downgrade():
    with op.batch_alter_table('product_inquiries') as batch:
        batch.drop_index('idx_product_queue')
