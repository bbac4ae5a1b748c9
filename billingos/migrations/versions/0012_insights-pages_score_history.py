"""insights pages: every churn score kept for the trend (billing_churn_score_history) and the bell's index

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_churn_score_history',
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('scored_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('owner_id', 'scored_at', name=op.f('pk_billing_churn_score_history'))
    )
    op.create_index(op.f('ix_billing_churn_score_history_scored_at'), 'billing_churn_score_history', ['scored_at'],
                    unique=False)
    # the admin bell: COUNT(*) WHERE state = 'new' reads this index only
    op.create_index('ix_billing_insights_state', 'billing_insights', ['state', 'kind'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_billing_insights_state', table_name='billing_insights')
    op.drop_index(op.f('ix_billing_churn_score_history_scored_at'), table_name='billing_churn_score_history')
    op.drop_table('billing_churn_score_history')
