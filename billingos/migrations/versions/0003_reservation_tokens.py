"""reservation tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:02:08.869500
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Existing rows take the server default '': consume() rows never need a token, and reservations made
# before this revision were handed out as guessable 'rsv_<n>' ids, which are now refused, so no id can
# name them. A held one still lapses at its expires_at, or a retried reserve() with its idempotency key
# gives it a token. A constant default keeps ADD COLUMN cheap: no table rewrite on PostgreSQL 11+, and
# SQLite adds it in place.


def upgrade() -> None:
    with op.batch_alter_table('billing_entitlement_usage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token', sa.String(length=32), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('billing_entitlement_usage', schema=None) as batch_op:
        batch_op.drop_column('token')
