"""resume links work once; verified customers' tokens issued so far are refused

Revision ID: f4a1c8e2d7b3
Revises: 7b1f0e3a9c22
Create Date: 2026-12-01 10:00:00

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql


# revision identifiers, used by Alembic.
revision = 'f4a1c8e2d7b3'
down_revision = '7b1f0e3a9c22'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('used_resume_links',
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('used_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql'), nullable=False),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_used_resume_links'))
    )
    with op.batch_alter_table('used_resume_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_resume_links_used_at'), ['used_at'], unique=False)
    # Until now a verified customer's first identify kept the anonymous session id, so an
    # anonymous token (or a reusable resume link) could read their later messages. Every
    # token of a verified customer issued so far is refused: their shop's page identifies
    # them again on the next view and gets a fresh one.
    now = datetime.now(UTC).replace(tzinfo=None)
    op.execute(
        sa.text("UPDATE shoppers SET tokens_valid_after = :now WHERE external_id IS NOT NULL").bindparams(now=now)
    )


def downgrade():
    with op.batch_alter_table('used_resume_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_resume_links_used_at'))

    op.drop_table('used_resume_links')
