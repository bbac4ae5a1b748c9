"""payment methods and cancellation feedback (the customer portal)

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 13:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('billing_payment_methods',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('stripe_id', sa.String(length=255), nullable=False),
    sa.Column('customer_stripe_id', sa.String(length=255), nullable=True),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('brand', sa.String(length=32), nullable=True),
    sa.Column('last4', sa.String(length=4), nullable=True),
    sa.Column('exp_month', sa.Integer(), nullable=True),
    sa.Column('exp_year', sa.Integer(), nullable=True),
    sa.Column('detached', sa.Boolean(), nullable=False),
    sa.Column('data', _JSON, nullable=False),
    sa.Column('stripe_created', billingos.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('synced_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_payment_methods')),
    sa.UniqueConstraint('stripe_id', name=op.f('uq_billing_payment_methods_stripe_id'))
    )
    with op.batch_alter_table('billing_payment_methods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_payment_methods_customer_stripe_id'), ['customer_stripe_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_payment_methods_owner_id'), ['owner_id'], unique=False)

    op.create_table('billing_cancellation_feedback',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('subscription_stripe_id', sa.String(length=255), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('feedback', sa.String(length=32), nullable=True),
    sa.Column('comment', sa.String(length=1000), nullable=True),
    sa.Column('at_period_end', sa.Boolean(), nullable=False),
    sa.Column('created_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_cancellation_feedback'))
    )
    with op.batch_alter_table('billing_cancellation_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_cancellation_feedback_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_cancellation_feedback_subscription_stripe_id'), ['subscription_stripe_id'], unique=False)


def downgrade() -> None:
    op.drop_table('billing_cancellation_feedback')
    op.drop_table('billing_payment_methods')
