"""Reconciliation runs: every run is stored, whoever started it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingReconcileRun(Base):
    """One reconciliation run, from anywhere (the admin dashboard, the CLI, the hourly task, a host's code):
    when, who or what started it (``source`` and ``started_by``), dry run or not, its counts and report."""

    __tablename__ = "billing_reconcile_runs"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(16), default="code")     # admin | cli | task | code
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    fixed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
