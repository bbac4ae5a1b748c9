"""portal: customers' own usage alert thresholds; reconciliation runs from anywhere (source and counts)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import billingos.db

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('billing_usage_alerts',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=False),
    sa.Column('feature', sa.String(length=80), nullable=False),
    sa.Column('thresholds', _JSON, nullable=False),
    sa.Column('updated_at', billingos.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_usage_alerts')),
    sa.UniqueConstraint('owner_id', 'feature', name=op.f('uq_billing_usage_alerts_owner_id_feature'))
    )
    # Runs stored before this revision all came from the admin dashboard.
    with op.batch_alter_table('billing_reconcile_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='admin'))
        for column in ('created', 'updated', 'removed'):
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('billing_reconcile_runs', schema=None) as batch_op:
        for column in ('source', 'created', 'updated', 'removed'):
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('billing_reconcile_runs', schema=None) as batch_op:
        for column in ('removed', 'updated', 'created', 'source'):
            batch_op.drop_column(column)
    op.drop_table('billing_usage_alerts')
