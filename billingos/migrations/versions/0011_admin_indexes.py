"""admin dashboard: customer search indexes (email and name prefixes) and reconciliation runs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import billingos.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':   # SQLite cannot reflect expression indexes
        for column in ('email', 'name'):
            # lower(x) text_pattern_ops: a LIKE 'prefix%' on lower(x) is an index range scan
            op.create_index(f'ix_billing_customers_{column}_lower', 'billing_customers',
                            [sa.text(f'lower({column}) text_pattern_ops')], unique=False)
    op.create_table('billing_reconcile_runs',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('started_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_by', sa.String(length=120), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('fixed', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('report', _JSON, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_reconcile_runs'))
    )
    with op.batch_alter_table('billing_reconcile_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_reconcile_runs_started_at'), ['started_at'], unique=False)


def downgrade() -> None:
    op.drop_table('billing_reconcile_runs')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_billing_customers_name_lower', table_name='billing_customers')
        op.drop_index('ix_billing_customers_email_lower', table_name='billing_customers')
