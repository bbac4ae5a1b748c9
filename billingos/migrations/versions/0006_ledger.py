"""the subscription ledger (replaces billing_subscription_changes) and the host's exchange rates

The old change table kept status history only (no MRR, at processing time), so it is dropped rather
than copied: a status row without MRR would read as "MRR 0 then" to the ledger.
``billingos analytics backfill`` posts the history from Stripe's objects and Events API instead; until
then a subscription already past_due counts its entitlement grace period from its next sync.

Revision ID: 0006
Revises: 0009
Create Date: 2026-12-03 13:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db

revision = '0006'
down_revision = '0009'
branch_labels = None
depends_on = None

_T = 'billing_subscription_ledger'


def upgrade() -> None:
    op.create_table(
        _T,
        sa.Column('id', billingos.db.BigID, autoincrement=True, nullable=False),
        sa.Column('subscription_stripe_id', sa.String(length=255), nullable=False),
        sa.Column('customer_stripe_id', sa.String(length=255), nullable=False),
        sa.Column('owner_id', sa.String(length=255), nullable=True),
        sa.Column('effective_at', billingos.db.UTCDateTime(), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('mrr_before', sa.BigInteger(), nullable=False),
        sa.Column('mrr_after', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('status_before', sa.String(length=32), nullable=True),
        sa.Column('status_after', sa.String(length=32), nullable=False),
        sa.Column('cause', sa.String(length=32), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('stripe_event_id', sa.String(length=255), nullable=True),
        sa.Column('detail', billingos.db.JSONType, nullable=False),
        sa.Column('recorded_at', billingos.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_subscription_ledger')),
    )
    with op.batch_alter_table(_T, schema=None) as batch_op:
        batch_op.create_index('ix_billing_subscription_ledger_sub_at',
                              ['subscription_stripe_id', 'effective_at', 'rank'], unique=False)
        batch_op.create_index('ix_billing_subscription_ledger_customer_at',
                              ['customer_stripe_id', 'effective_at'], unique=False)
        batch_op.create_index('ix_billing_subscription_ledger_at',
                              ['effective_at', 'currency', 'mrr_before', 'mrr_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_subscription_ledger_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_subscription_ledger_stripe_event_id'), ['stripe_event_id'],
                              unique=False)
    op.create_table(
        'billing_fx_rates',
        sa.Column('id', billingos.db.BigID, autoincrement=True, nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('quote', sa.String(length=3), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('rate', sa.Numeric(precision=28, scale=12), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_fx_rates')),
        sa.UniqueConstraint('currency', 'quote', 'valid_from', name=op.f('uq_billing_fx_rates_currency_quote_valid_from')),
    )
    with op.batch_alter_table('billing_subscription_changes', schema=None) as batch_op:
        for column in ('subscription_stripe_id', 'owner_id', 'customer_stripe_id', 'at'):
            batch_op.drop_index(f'ix_billing_subscription_changes_{column}')
    op.drop_table('billing_subscription_changes')


def downgrade() -> None:
    op.create_table(
        'billing_subscription_changes',
        sa.Column('id', billingos.db.BigID, autoincrement=True, nullable=False),
        sa.Column('subscription_stripe_id', sa.String(length=255), nullable=False),
        sa.Column('customer_stripe_id', sa.String(length=255), nullable=False),
        sa.Column('owner_id', sa.String(length=255), nullable=True),
        sa.Column('at', billingos.db.UTCDateTime(), nullable=False),
        sa.Column('status_from', sa.String(length=32), nullable=True),
        sa.Column('status_to', sa.String(length=32), nullable=False),
        sa.Column('items', billingos.db.JSONType, nullable=False),
        sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_subscription_changes')),
    )
    with op.batch_alter_table('billing_subscription_changes', schema=None) as batch_op:
        for column in ('at', 'customer_stripe_id', 'owner_id', 'subscription_stripe_id'):
            batch_op.create_index(f'ix_billing_subscription_changes_{column}', [column], unique=False)
    op.execute(
        "INSERT INTO billing_subscription_changes (subscription_stripe_id, customer_stripe_id, owner_id, at, "
        "status_from, status_to, items, cancel_at_period_end) "
        f"SELECT subscription_stripe_id, customer_stripe_id, owner_id, effective_at, status_before, status_after, "
        f"'[]', false FROM {_T} WHERE source != 'correction' ORDER BY effective_at, id")
    op.drop_table('billing_fx_rates')
    op.drop_table(_T)
