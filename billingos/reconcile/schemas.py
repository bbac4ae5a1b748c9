from __future__ import annotations

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
