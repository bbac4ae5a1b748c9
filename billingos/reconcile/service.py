"""``billing.reconcile()``: backfill missed events, then compare full lists with Stripe. Stripe wins.

Each kind is reconciled through its webhook ``Mirror``: an object that differs, is missing locally, or
is missing in Stripe is fetched again and applied with the same freshness protocol as a webhook, so
reconcile never writes an older state over a newer one, and "gone in Stripe" means the same thing here
as in the webhook task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from .. import validation
from ..domain_events import ReconciliationFixed
from ..errors import InvalidInputError
from ..freshness import ROUNDS, StaleStateError, claim_fresh, read_versions
from ..stripe_api import call_stripe, plain
from ..webhooks import Mirror, Sync
from .schemas import KindReport, ReconcileReport

if TYPE_CHECKING:
    from ..context import Context
    from ..webhooks.service import WebhookService

Progress = Callable[[str, int], None]   # (stage, items done so far)


@dataclass
class Reconciler:
    """How to reconcile one kind: Stripe's full list, the local ids, ``apply(session, obj)`` (sync one
    listed object; returns "created", "updated" or None when nothing changed), and the kind's mirror (to
    fetch an object missing from the list and apply its absence)."""

    kind: str
    list_remote: Callable[[], Iterable[dict[str, Any]]]
    local_ids: Callable[[], set[str]]
    apply: Callable[[Session, dict[str, Any]], str | None]
    mirror: Mirror


class ReconcileService:
    def __init__(self, ctx: Context, *, webhooks: WebhookService, threshold: int = 10,
                 lookback: timedelta = timedelta(days=3)) -> None:
        self._ctx = ctx
        self._webhooks = webhooks
        self.threshold, self.lookback = threshold, lookback
        self.reconcilers: list[Reconciler] = []
        ctx.tasks.every("reconcile", timedelta(hours=1), lambda: self.run())

    def __call__(self, *, lookback: timedelta | None = None, progress: Progress | None = None) -> ReconcileReport:
        """``billing.reconcile()`` is ``billing.reconcile.run()``."""
        return self.run(lookback=lookback, progress=progress)

    def add(self, reconciler: Reconciler) -> None:
        self.reconcilers.append(reconciler)

    def run(self, *, lookback: timedelta | None = None, progress: Progress | None = None) -> ReconcileReport:
        window = self.lookback if lookback is None else lookback
        if not isinstance(window, timedelta) or not timedelta(0) < window <= timedelta(days=30):
            raise InvalidInputError("lookback must be a timedelta between 0 and 30 days (the Events API keeps "
                                    f"30 days), got {validation.echo(window)}.", param="lookback")
        if progress is not None:
            validation.callable_(progress, "progress")
        backfilled, processed = self._backfill(window, progress)
        kinds = [self._compare(r, progress) for r in self.reconcilers]
        report = ReconcileReport(events_backfilled=backfilled, events_processed=processed, kinds=kinds)
        if report.fixed > self.threshold:
            self._ctx.events.publish(None, ReconciliationFixed(report))
        return report

    def _backfill(self, window: timedelta, progress: Progress | None) -> tuple[int, int]:
        """Store every event of the window not seen yet, then process what is due."""
        since = int((self._ctx.now() - window).timestamp())
        events = call_stripe(self._ctx.stripe.v1.events.list, params={"created": {"gte": since}, "limit": 100})
        stored = []
        for n, event in enumerate(events.auto_paging_iter(), 1):
            data = plain(event)
            if self._webhooks.store(data, source="reconcile", enqueue=False).duplicate:
                continue
            stored.append(data["id"])
            if progress:
                progress("events", n)
        processed = 0
        for event_id in reversed(stored):  # the Events API lists newest first; apply oldest first
            if self._webhooks.process(event_id) == "processed":
                processed += 1
        return len(stored), processed

    def _compare(self, r: Reconciler, progress: Progress | None) -> KindReport:
        """Apply each listed object unless a newer state arrived after the comparison began: versions are
        read first, so a listed object (fetched after that) is at least as new as anything applied before."""
        created: list[str] = []
        updated: list[str] = []
        local = r.local_ids()
        with self._ctx.session_factory() as s:
            versions = read_versions(s, [r.mirror.lock(i) for i in local])
        seen: set[str] = set()
        for n, obj in enumerate(r.list_remote(), 1):
            seen.add(obj["id"])
            lock = r.mirror.lock(obj["id"])
            r.mirror.prepare(obj)
            with self._ctx.transaction() as session:
                outcome = r.apply(session, obj) if claim_fresh(session, lock, versions.get(lock, 0)) else None
            if outcome == "created":
                created.append(obj["id"])
            elif outcome == "updated":
                updated.append(obj["id"])
            if progress:
                progress(r.kind, n)
        removed = [sid for sid in sorted(local - seen) if self.refresh(r.mirror, sid) is None]
        return KindReport(kind=r.kind, checked=len(seen), created=created, updated=updated, removed=removed)

    def refresh(self, mirror: Mirror, object_id: str) -> dict[str, Any] | None:
        """Fetch one object and apply it (None: gone in Stripe, applied as gone), never over a newer state."""
        lock = mirror.lock(object_id)
        for _ in range(ROUNDS):
            with self._ctx.session_factory() as s:
                seen = read_versions(s, [lock])[lock]
            current = mirror.fetch(object_id)
            mirror.prepare(current)
            with self._ctx.transaction() as session:
                if claim_fresh(session, lock, seen):
                    mirror.apply(session, Sync(object_id, current, ()))
                    return current
        raise StaleStateError(f"{object_id} kept changing while reconcile applied it; the next run retries.")
