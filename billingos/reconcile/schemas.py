from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class KindReport(BaseModel):
    """What reconciliation found for one object kind (customers, subscriptions, invoices...)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    checked: int = 0
    created: list[str] = Field(default_factory=list)     # in Stripe, missing locally
    updated: list[str] = Field(default_factory=list)     # local row differed from Stripe
    removed: list[str] = Field(default_factory=list)     # local row whose Stripe object is gone
    removal_limit: int | None = None   # how many a run may remove without force (reconcile_max_removal)

    @property
    def fixed(self) -> int:
        return len(self.created) + len(self.updated) + len(self.removed)


class ReconcileReport(BaseModel):
    """What one ``billing.reconcile()`` did: events backfilled from the Events API and processed, and per
    object kind what the full-list comparison fixed (``report.kind("invoice")``, ``report.fixed``)."""

    model_config = ConfigDict(frozen=True)

    events_backfilled: int
    events_processed: int
    kinds: list[KindReport]
    dry_run: bool = False   # nothing was written: the lists say what a run would change

    @property
    def over_limit(self) -> list[KindReport]:
        """The kinds whose removals exceed ``removal_limit`` (a real run refuses them without force)."""
        return [k for k in self.kinds if k.removal_limit is not None and len(k.removed) > k.removal_limit]

    @property
    def fixed(self) -> int:
        return sum(k.fixed for k in self.kinds)

    def kind(self, name: str) -> KindReport:
        return next(k for k in self.kinds if k.kind == name)


#: Where a run came from: the admin dashboard, the ``billingos reconcile`` command, the hourly task, or a
#: host's own call of ``billing.reconcile()``.
SOURCES = ("admin", "cli", "task", "code")


class ReconcileRun(BaseModel):
    """One stored run (``billing.reconcile.runs()``): when, where from (``source``) and who or what started
    it, dry run or not, how many objects it created, updated and removed (or would have, for a dry run),
    and its full report, or the error that stopped it (``report`` is None then)."""

    model_config = ConfigDict(frozen=True)

    id: int
    started_at: datetime
    finished_at: datetime
    source: str
    started_by: str
    dry_run: bool
    fixed: int
    created: int
    updated: int
    removed: int
    error: str | None
    report: ReconcileReport | None

    @classmethod
    def from_row(cls, row: Any) -> ReconcileRun:
        return cls(id=row.id, started_at=row.started_at, finished_at=row.finished_at, source=row.source,
                   started_by=row.started_by, dry_run=row.dry_run, fixed=row.fixed, created=row.created,
                   updated=row.updated, removed=row.removed, error=row.error,
                   report=ReconcileReport.model_validate(row.report) if row.report else None)
