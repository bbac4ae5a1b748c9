from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID

# pending -> running -> done | failed (retried after a backoff) -> dead (replayable)
STATUSES = ("pending", "running", "done", "failed", "dead")


class BillingJob(Base):
    """One unit of durable background work. ``(queue, key)`` is unique, so enqueueing the same work twice
    stores it once; ``group_key`` gathers jobs about one object so a worker takes them together."""

    __tablename__ = "billing_jobs"
    __table_args__ = (
        UniqueConstraint("queue", "key"),
        Index("ix_billing_jobs_due", "queue", "status", "run_at"),
        Index("ix_billing_jobs_group", "queue", "group_key", "status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    queue: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    group_key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    result: Mapped[str | None] = mapped_column(String(32))           # a done job's outcome, e.g. "ignored"
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)             # due from; the backoff moves it
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(32))        # the lease token: fences a late worker
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
