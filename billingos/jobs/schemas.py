from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from .models import BillingJob


class JobInfo(BaseModel):
    """One job as operators see it (``billing.jobs.list()``, the admin jobs page)."""

    model_config = ConfigDict(frozen=True)

    id: int
    queue: str
    key: str
    group_key: str | None
    status: str                 # pending | running | done | failed | dead
    result: str | None          # a done job's outcome (e.g. "ignored")
    attempts: int
    last_error: str | None
    run_at: datetime
    created_at: datetime
    finished_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: BillingJob) -> JobInfo:
        return cls(id=row.id, queue=row.queue, key=row.key, group_key=row.group_key, status=row.status,
                   result=row.result, attempts=row.attempts, last_error=row.last_error, run_at=row.run_at,
                   created_at=row.created_at, finished_at=row.finished_at, payload=dict(row.payload or {}))
