"""crises: one cause hitting many customers, linked to its incidents; how each order was paid

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

import plugin.storage.models


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

UTC = plugin.storage.models.UTCDateTime(timezone=True)
UNRESOLVED = "status != 'resolved'"


def upgrade() -> None:
    op.create_table('crises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('cause_type', sa.String(length=20), nullable=False),
    sa.Column('cause', sa.JSON(), nullable=False),
    sa.Column('cause_key', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('opened_at', UTC, nullable=False),
    sa.Column('resolved_at', UTC, nullable=True),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('updates', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_crises_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crises'))
    )
    with op.batch_alter_table('crises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crises_shop_id'), ['shop_id'], unique=False)
        batch_op.create_index('uq_crises_open_cause', ['shop_id', 'cause_key'], unique=True,
                              sqlite_where=sa.text(UNRESOLVED), postgresql_where=sa.text(UNRESOLVED))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gateway', sa.String(length=100), nullable=True))
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_incidents_crisis_id_crises'), 'crises', ['crisis_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_incidents_crisis_id'), ['crisis_id'], unique=False)
        batch_op.create_index('ix_incidents_opened_at', ['opened_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_opened_at')
        batch_op.drop_index(batch_op.f('ix_incidents_crisis_id'))
        batch_op.drop_constraint(batch_op.f('fk_incidents_crisis_id_crises'), type_='foreignkey')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('gateway')
    op.drop_table('crises')
