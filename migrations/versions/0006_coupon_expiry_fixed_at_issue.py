"""a coupon's expiry, fixed when it is first issued

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import plugin.storage.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('compensations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', plugin.storage.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('compensations', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
