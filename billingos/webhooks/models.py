from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID

# As hosts see them; each is the status of the event's job (queue "webhooks") under another name.
STATUSES = ("pending", "processing", "processed", "ignored", "failed", "dead")


class BillingWebhookEvent(Base):
    """Every Stripe event received, stored raw before any processing. The event id is unique. Its
    processing state is its job's (``billing_jobs``, queue ``webhooks``, key = the event id)."""

    __tablename__ = "billing_webhook_events"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(255), index=True)
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    api_version: Mapped[str | None] = mapped_column(String(64))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16), default="webhook")     # webhook | reconcile
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
