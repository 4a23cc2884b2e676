"""shop owner email for sign-in links

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import plugin.storage.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_email', sa.String(length=320), nullable=True))
        batch_op.create_index(batch_op.f('ix_shops_owner_email'), ['owner_email'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('shops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shops_owner_email'))
        batch_op.drop_column('owner_email')

