"""indexes for the desk: a shop's incidents by id and by day, its orders by number

On PostgreSQL they are built CONCURRENTLY, outside the release's transaction, so webhooks keep being stored
while a big table is indexed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

INDEXES = (('ix_incidents_shop_id_id', 'incidents', ['shop_id', 'id']),
           ('ix_incidents_shop_id_opened_at', 'incidents', ['shop_id', 'opened_at']),
           ('ix_orders_shop_number', 'orders', ['shop_id', 'number']))


def upgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, table, columns in INDEXES:
                op.create_index(name, table, columns, unique=False, postgresql_concurrently=True,
                                if_not_exists=True)
        return
    for name, table, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
