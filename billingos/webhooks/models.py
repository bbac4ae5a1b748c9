from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID

# pending -> processing -> processed | ignored | failed (retried) -> dead (replayable)
STATUSES = ("pending", "processing", "processed", "ignored", "failed", "dead")


class BillingWebhookEvent(Base):
    """Every Stripe event received, stored raw before any processing. The event id is unique."""

    __tablename__ = "billing_webhook_events"
    __table_args__ = (Index("ix_billing_webhook_events_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(255), index=True)
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    api_version: Mapped[str | None] = mapped_column(String(64))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16), default="webhook")     # webhook | reconcile
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BillingLock(Base):
    """One row per Stripe object id, locked FOR UPDATE while an event for that object is applied."""

    __tablename__ = "billing_locks"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
