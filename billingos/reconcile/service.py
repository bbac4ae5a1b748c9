"""``billing.reconcile()``: backfill missed events, then compare full lists with Stripe. Stripe wins."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .. import signals
from ..errors import InvalidInputError
from ..stripe_api import call_stripe, plain
from .schemas import KindReport, ReconcileReport

if TYPE_CHECKING:
    from ..billing import Billing

Progress = Callable[[str, int], None]   # (stage, items done so far)


@dataclass
class Reconciler:
    """How to reconcile one kind: list it in Stripe, list local ids, and apply one object.

    ``apply(obj) -> "created" | "updated" | None`` syncs through the kind's own sync path;
    ``remove(stripe_id)`` handles a local row whose Stripe object no longer exists."""

    kind: str
    list_remote: Callable[[], Iterable[dict[str, Any]]]
    local_ids: Callable[[], set[str]]
    apply: Callable[[dict[str, Any]], str | None]
    remove: Callable[[str], bool]


class ReconcileService:
    def __init__(self, billing: Billing, *, threshold: int = 10, lookback: timedelta = timedelta(days=3)) -> None:
        self._billing = billing
        self.threshold, self.lookback = threshold, lookback
        self.reconcilers: list[Reconciler] = []
        billing.tasks.every("reconcile", timedelta(hours=1), lambda: self.run())

    def __call__(self, *, lookback: timedelta | None = None, progress: Progress | None = None) -> ReconcileReport:
        """``billing.reconcile()`` is ``billing.reconcile.run()``."""
        return self.run(lookback=lookback, progress=progress)

    def add(self, reconciler: Reconciler) -> None:
        self.reconcilers.append(reconciler)

    def run(self, *, lookback: timedelta | None = None, progress: Progress | None = None) -> ReconcileReport:
        window = self.lookback if lookback is None else lookback
        if not isinstance(window, timedelta) or not timedelta(0) < window <= timedelta(days=30):
            raise InvalidInputError("lookback must be a timedelta between 0 and 30 days (the Events API keeps "
                                    "30 days).", param="lookback")
        backfilled, processed = self._backfill(window, progress)
        kinds = [self._compare(r, progress) for r in self.reconcilers]
        report = ReconcileReport(events_backfilled=backfilled, events_processed=processed, kinds=kinds)
        if report.fixed > self.threshold:
            signals.reconciliation_fixed.send(self._billing, report=report)
        return report

    def _backfill(self, window: timedelta, progress: Progress | None) -> tuple[int, int]:
        """Store every event of the window not seen yet, then process what is due."""
        billing = self._billing
        since = int((billing.now() - window).timestamp())
        events = call_stripe(billing.stripe.v1.events.list, params={"created": {"gte": since}, "limit": 100})
        stored = []
        for n, event in enumerate(events.auto_paging_iter(), 1):
            data = plain(event)
            if billing.webhooks.store(data, source="reconcile", enqueue=False).duplicate:
                continue
            stored.append(data["id"])
            if progress:
                progress("events", n)
        processed = 0
        for event_id in reversed(stored):  # the Events API lists newest first; apply oldest first
            if billing.webhooks.process(event_id) == "processed":
                processed += 1
        return len(stored), processed

    def _compare(self, r: Reconciler, progress: Progress | None) -> KindReport:
        created: list[str] = []
        updated: list[str] = []
        seen: set[str] = set()
        for n, obj in enumerate(r.list_remote(), 1):
            seen.add(obj["id"])
            outcome = r.apply(obj)
            if outcome == "created":
                created.append(obj["id"])
            elif outcome == "updated":
                updated.append(obj["id"])
            if progress:
                progress(r.kind, n)
        removed = [sid for sid in sorted(r.local_ids() - seen) if r.remove(sid)]
        return KindReport(kind=r.kind, checked=len(seen), created=created, updated=updated, removed=removed)
