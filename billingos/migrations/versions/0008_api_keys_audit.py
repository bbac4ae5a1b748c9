"""API keys and the audit log: ``billing_api_keys`` (only a SHA-256 of each secret) and the append-only
``billing_audit_events`` (triggers refuse UPDATE and DELETE on both SQLite and PostgreSQL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import billingos.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION billing_audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_audit_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table('billing_api_keys',
    sa.Column('id', billingos.db.BigID, autoincrement=True, nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.String(length=4), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', billingos.db.JSONType, nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('created_by', sa.String(length=300), nullable=False),
    sa.Column('created_at', billingos.db.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', billingos.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', billingos.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_api_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_billing_api_keys_key_id'))
    )
    with op.batch_alter_table('billing_api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_api_keys_owner_id'), ['owner_id'], unique=False)

    op.create_table('billing_audit_events',
    sa.Column('id', billingos.db.BigID, autoincrement=True, nullable=False),
    sa.Column('occurred_at', billingos.db.UTCDateTime(), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=255), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target_id', sa.String(length=255), nullable=False),
    sa.Column('owner_id', sa.String(length=255), nullable=True),
    sa.Column('before', billingos.db.JSONType, nullable=True),
    sa.Column('after', billingos.db.JSONType, nullable=True),
    sa.Column('request_id', sa.String(length=255), nullable=True),
    sa.Column('client_address', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_audit_events'))
    )
    with op.batch_alter_table('billing_audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_billing_audit_events_action', ['action', 'id'], unique=False)
        batch_op.create_index('ix_billing_audit_events_actor', ['actor_kind', 'actor_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_audit_events_occurred_at'), ['occurred_at'], unique=False)
        batch_op.create_index('ix_billing_audit_events_owner', ['owner_id', 'id'], unique=False)
        batch_op.create_index('ix_billing_audit_events_target', ['target_type', 'target_id', 'id'], unique=False)

    # Append-only in the database itself, not only by the absence of an update API.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_FUNCTION)
        op.execute("CREATE TRIGGER billing_audit_events_append_only BEFORE UPDATE OR DELETE ON billing_audit_events "
                   "FOR EACH ROW EXECUTE FUNCTION billing_audit_events_append_only()")
    elif op.get_bind().dialect.name == 'sqlite':
        for verb in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER billing_audit_events_no_{verb.lower()} BEFORE {verb} ON billing_audit_events "
                       f"BEGIN SELECT RAISE(ABORT, 'billing_audit_events is append-only: {verb} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS billing_audit_events_append_only ON billing_audit_events")
        op.execute("DROP FUNCTION IF EXISTS billing_audit_events_append_only()")
    elif op.get_bind().dialect.name == 'sqlite':
        for verb in ('update', 'delete'):
            op.execute(f"DROP TRIGGER IF EXISTS billing_audit_events_no_{verb}")
    with op.batch_alter_table('billing_audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_audit_events_target')
        batch_op.drop_index('ix_billing_audit_events_owner')
        batch_op.drop_index(batch_op.f('ix_billing_audit_events_occurred_at'))
        batch_op.drop_index('ix_billing_audit_events_actor')
        batch_op.drop_index('ix_billing_audit_events_action')
    op.drop_table('billing_audit_events')
    with op.batch_alter_table('billing_api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_api_keys_owner_id'))
    op.drop_table('billing_api_keys')
