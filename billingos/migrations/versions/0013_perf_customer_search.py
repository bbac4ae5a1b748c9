"""admin customer search: partial, covering prefix indexes on lower(email) and lower(name)

The search reads its matching ids from these alone (an index-only scan), then fetches one page by primary
key; they replace 0011's plain prefix indexes, whose leading key they share.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':   # SQLite cannot reflect expression indexes
        return
    for column in ('email', 'name'):
        op.create_index(f'ix_billing_customers_{column}_search', 'billing_customers',
                        [sa.text(f'lower({column}) text_pattern_ops')], unique=False,
                        postgresql_include=['id', column], postgresql_where=sa.text('deleted_at IS NULL'))
        op.drop_index(f'ix_billing_customers_{column}_lower', table_name='billing_customers')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for column in ('email', 'name'):
        op.create_index(f'ix_billing_customers_{column}_lower', 'billing_customers',
                        [sa.text(f'lower({column}) text_pattern_ops')], unique=False)
        op.drop_index(f'ix_billing_customers_{column}_search', table_name='billing_customers')
