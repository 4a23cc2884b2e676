"""index processed inbox rows for the purge

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

NAME = 'ix_webhook_deliveries_processed'
WHERE = 'processed_at IS NOT NULL'


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        # Built concurrently so a big inbox keeps taking webhooks while the index is made.
        with op.get_context().autocommit_block():
            op.create_index(NAME, 'webhook_deliveries', ['processed_at'], unique=False,
                            postgresql_where=sa.text(WHERE), postgresql_concurrently=True)
    else:
        op.create_index(NAME, 'webhook_deliveries', ['processed_at'], unique=False, sqlite_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index(NAME, table_name='webhook_deliveries')
