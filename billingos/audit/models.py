from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingAuditEvent(Base):
    """One sensitive operation, written in the transaction that performed it. Append-only: the migration
    adds triggers that refuse UPDATE and DELETE on this table."""

    __tablename__ = "billing_audit_events"
    __table_args__ = (Index("ix_billing_audit_events_target", "target_type", "target_id", "id"),
                      Index("ix_billing_audit_events_action", "action", "id"),
                      Index("ix_billing_audit_events_actor", "actor_kind", "actor_id", "id"),
                      Index("ix_billing_audit_events_owner", "owner_id", "id"))

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[str | None] = mapped_column(String(255))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    request_id: Mapped[str | None] = mapped_column(String(255))
    client_address: Mapped[str | None] = mapped_column(String(255))
