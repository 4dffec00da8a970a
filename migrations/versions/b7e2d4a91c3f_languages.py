"""languages: each site's enabled and default language, the shopper's, the admin's, each published Q&A's

Revision ID: b7e2d4a91c3f
Revises: bdee0626f602
Create Date: 2026-12-06 13:50:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'b7e2d4a91c3f'
down_revision = 'bdee0626f602'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('default_language', sa.String(length=8), server_default='en', nullable=False))
    with op.batch_alter_table('shoppers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
    with op.batch_alter_table('published_questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='en', nullable=False))


def downgrade():
    with op.batch_alter_table('published_questions', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('shoppers', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('default_language')
        batch_op.drop_column('languages')
