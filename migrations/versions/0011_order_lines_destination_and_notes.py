"""order lines, destination and shipping service; the team's notes on incidents

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

import plugin.storage.models


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

UTC = plugin.storage.models.UTCDateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('region', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('service', sa.String(length=100), nullable=True))
    op.create_table('order_items',
    sa.Column('id', ID, nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('order_id', ID, nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_items_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_order_items_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_items'))
    )
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.create_index('ix_order_items_shop_sku', ['shop_id', 'sku'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_items_order_id'), ['order_id'], unique=False)
    op.create_table('incident_notes',
    sa.Column('id', ID, nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', ID, nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=320), nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_notes_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_incident_notes_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_notes'))
    )
    with op.batch_alter_table('incident_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_notes_incident_id'), ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_table('incident_notes')
    op.drop_table('order_items')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('service')
        batch_op.drop_column('region')
        batch_op.drop_column('country')
