"""message attempt times: a queued message whose job was lost is found and sent again

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

import plugin.storage.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

UTC = plugin.storage.models.UTCDateTime(timezone=True)
NAME = 'ix_messages_queued'
WHERE = "state = 'queued'"


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tried_at', UTC, nullable=True))
    op.create_index(NAME, 'messages', ['created_at'], unique=False,
                    sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index(NAME, table_name='messages')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('tried_at')
