"""compensation ledger details and incident delays

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import plugin.storage.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('compensations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('value', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('valid_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('rule', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('notes', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late_since', plugin.storage.models.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('late_since')

    with op.batch_alter_table('compensations', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('notes')
        batch_op.drop_column('rule')
        batch_op.drop_column('code')
        batch_op.drop_column('valid_days')
        batch_op.drop_column('value')

