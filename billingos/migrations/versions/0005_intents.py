"""intents: one row per create request (its idempotency key, subject, parameters digest, outcome), so a
retry finds what an earlier attempt made in Stripe, whatever failed in between.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_intents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', billingos.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', billingos.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_intents')),
    sa.UniqueConstraint('key', name=op.f('uq_billing_intents_key'))
    )
    op.create_index(op.f('ix_billing_intents_subject'), 'billing_intents', ['subject'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_billing_intents_subject'), table_name='billing_intents')
    op.drop_table('billing_intents')
