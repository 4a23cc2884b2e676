"""index pending inbox rows by shop: the drain shares each batch among the shops that have some

Built CONCURRENTLY on PostgreSQL, outside the release's transaction, so webhooks keep being stored meanwhile.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

NAME, TABLE, COLUMNS = 'ix_webhook_deliveries_pending_shop', 'webhook_deliveries', ['shop_id', 'id']
PENDING = sa.text('processed_at IS NULL')


def upgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index(NAME, TABLE, COLUMNS, unique=False, postgresql_where=PENDING,
                            postgresql_concurrently=True, if_not_exists=True)
        return
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(NAME, COLUMNS, unique=False, sqlite_where=PENDING)


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(NAME)
