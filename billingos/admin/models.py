from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingReconcileRun(Base):
    """A reconciliation started from the admin dashboard: who, when, dry run or not, and its report."""

    __tablename__ = "billing_reconcile_runs"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(120))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    fixed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
