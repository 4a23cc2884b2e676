"""customer messages: one row per incident × purpose × sequence; what the customer chose and said

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

import plugin.storage.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

UTC = plugin.storage.models.UTCDateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _word(length: int) -> sa.String:
    return sa.String(length=length)


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('next_message_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('offer', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('offer_chosen', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offer_chosen_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('confirmed', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', UTC, nullable=True))
        batch_op.add_column(sa.Column('reply_due_at', UTC, nullable=True))
        batch_op.create_index(batch_op.f('ix_incidents_next_message_at'), ['next_message_at'], unique=False)

    # The former table was never written to: nothing sent messages before this release.
    op.drop_table('messages')
    op.create_table('messages',
    sa.Column('id', ID, nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', ID, nullable=True),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('audience', _word(20), nullable=False),
    sa.Column('purpose', _word(20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('channel', _word(20), nullable=False),
    sa.Column('to_address', sa.Text(), nullable=True),
    sa.Column('locale', sa.String(length=10), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('state', _word(20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('sent_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_messages_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_messages_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('incident_id', 'purpose', 'sequence', name=op.f('uq_messages_incident_id_purpose_sequence')),
    sa.UniqueConstraint('key', name=op.f('uq_messages_key'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_incident_id', ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_shop_id'), ['shop_id'], unique=False)


def downgrade() -> None:
    op.drop_table('messages')
    op.create_table('messages',
    sa.Column('id', ID, nullable=False),
    sa.Column('incident_id', ID, nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('template', sa.String(length=100), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('sent_at', UTC, nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_messages_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('incident_id', 'channel', 'purpose', name=op.f('uq_messages_incident_id_channel_purpose'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_next_message_at'))
        for column in ('reply_due_at', 'confirmed_at', 'confirmed', 'offer_chosen_at', 'offer_chosen', 'offer',
                       'next_message_at', 'locale'):
            batch_op.drop_column(column)
