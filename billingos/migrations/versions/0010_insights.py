"""insights: the alerts store, the latest churn score per customer and the trained churn models

Revision ID: 0010
Revises: 0006 (main's head, the ledger)
Create Date: 2026-12-03 13:40:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0006'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('billing_insights',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('data', _json(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', billingos.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('read_by', sa.String(length=255), nullable=True),
    sa.Column('dismissed_at', billingos.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dismissed_by', sa.String(length=255), nullable=True),
    sa.Column('acted_at', billingos.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acted_by', sa.String(length=255), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    op.create_index('ix_billing_insights_kind_state', 'billing_insights', ['kind', 'state', 'id'], unique=False)
    op.create_index('ix_billing_insights_owner', 'billing_insights', ['owner_id', 'id'], unique=False)
    op.create_index(op.f('ix_billing_insights_created_at'), 'billing_insights', ['created_at'], unique=False)
    op.create_table('billing_churn_scores',
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('scored_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('reasons', _json(), nullable=False),
    sa.Column('features', _json(), nullable=False),
    sa.Column('episode_since', billingos.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('owner_id')
    )
    op.create_table('billing_churn_models',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('algorithm', sa.String(length=64), nullable=False),
    sa.Column('feature_names', _json(), nullable=False),
    sa.Column('report', _json(), nullable=False),
    sa.Column('artifact', sa.LargeBinary(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('billing_churn_models')
    op.drop_table('billing_churn_scores')
    op.drop_index(op.f('ix_billing_insights_created_at'), table_name='billing_insights')
    op.drop_index('ix_billing_insights_owner', table_name='billing_insights')
    op.drop_index('ix_billing_insights_kind_state', table_name='billing_insights')
    op.drop_table('billing_insights')
