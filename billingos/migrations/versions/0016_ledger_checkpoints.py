"""the ledger's checkpoints: evidence that changed nothing, so a late older event is reversed in time

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 20:15:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('billing_ledger_checkpoints',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('subscription_stripe_id', sa.String(length=255), nullable=False),
    sa.Column('effective_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_ledger_checkpoints')),
    sa.UniqueConstraint('subscription_stripe_id', 'effective_at', 'rank',
                        name=op.f('uq_billing_ledger_checkpoints_subscription_stripe_id_effective_at_rank'))
    )


def downgrade() -> None:
    op.drop_table('billing_ledger_checkpoints')
