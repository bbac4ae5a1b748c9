"""customers.erase(): ``billing_customers.erased_at``; the audit log lets an erasure scrub personal fields

The append-only triggers of 0008 refused every UPDATE. From here an UPDATE is refused when it changes what
happened (id, time, actor, action, target, owner, request id) or writes a client address; it may rewrite
``before``/``after`` and clear ``client_address``, which is what an erasure does. DELETE stays refused.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 19:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_FIXED = ('id', 'occurred_at', 'actor_kind', 'actor_id', 'action', 'target_type', 'target_id', 'owner_id',
          'request_id')
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION billing_audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND ({new}) IS NOT DISTINCT FROM ({old})
            AND (NEW.client_address IS NULL OR NEW.client_address IS NOT DISTINCT FROM OLD.client_address) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'billing_audit_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
""".format(new=', '.join(f'NEW.{c}' for c in _FIXED), old=', '.join(f'OLD.{c}' for c in _FIXED))
_PG_STRICT = """
CREATE OR REPLACE FUNCTION billing_audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_audit_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
_SQLITE_CHANGED = ' OR '.join([f'NEW.{c} IS NOT OLD.{c}' for c in _FIXED] +
                              ['(NEW.client_address IS NOT NULL AND NEW.client_address IS NOT OLD.client_address)'])


def upgrade() -> None:
    with op.batch_alter_table('billing_customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', billingos.db.UTCDateTime(timezone=True), nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(_PG_FUNCTION)      # the trigger of 0008 calls it
    elif dialect == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS billing_audit_events_no_update")
        op.execute("CREATE TRIGGER billing_audit_events_no_update BEFORE UPDATE ON billing_audit_events "
                   f"WHEN {_SQLITE_CHANGED} "
                   "BEGIN SELECT RAISE(ABORT, 'billing_audit_events is append-only: UPDATE refused'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(_PG_STRICT)
    elif dialect == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS billing_audit_events_no_update")
        op.execute("CREATE TRIGGER billing_audit_events_no_update BEFORE UPDATE ON billing_audit_events "
                   "BEGIN SELECT RAISE(ABORT, 'billing_audit_events is append-only: UPDATE refused'); END")
    with op.batch_alter_table('billing_customers', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
