"""dunning: one row per failed subscription invoice (its retries and outcome).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_dunning_cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('invoice_stripe_id', sa.String(length=255), nullable=False),
    sa.Column('subscription_stripe_id', sa.String(length=255), nullable=False),
    sa.Column('customer_stripe_id', sa.String(length=255), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('amount_due', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('retries_planned', sa.Integer(), nullable=False),
    sa.Column('retries_done', sa.Integer(), nullable=False),
    sa.Column('next_retry_at', billingos.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_decline_code', sa.String(length=64), nullable=True),
    sa.Column('no_retry_reason', sa.String(length=32), nullable=True),
    sa.Column('first_failed_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closes_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', billingos.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_dunning_cases')),
    sa.UniqueConstraint('invoice_stripe_id', name=op.f('uq_billing_dunning_cases_invoice_stripe_id'))
    )
    with op.batch_alter_table('billing_dunning_cases', schema=None) as batch_op:
        batch_op.create_index('ix_billing_dunning_cases_owner', ['owner_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_dunning_cases_subscription_stripe_id'),
                              ['subscription_stripe_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_dunning_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_dunning_cases_subscription_stripe_id'))
        batch_op.drop_index('ix_billing_dunning_cases_owner')
    op.drop_table('billing_dunning_cases')
