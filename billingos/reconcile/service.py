"""``billing.reconcile()``: backfill missed events, then compare full lists with Stripe. Stripe wins.

Each kind is reconciled through its webhook ``Mirror``: an object that differs, is missing locally, or
is missing in Stripe is fetched again and applied with the same freshness protocol as a webhook, so
reconcile never writes an older state over a newer one, and "gone in Stripe" means the same thing here
as in the webhook task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validation
from ..customers.schemas import Page
from ..domain_events import ReconcileCompleted, ReconciliationFixed
from ..errors import InvalidInputError, ReconcileRefusedError
from ..freshness import ROUNDS, StaleStateError, claim_fresh, read_versions
from ..stripe_api import call_stripe, plain
from ..webhooks import BillingWebhookEvent, Mirror, Sync
from .models import BillingReconcileRun
from .schemas import SOURCES, KindReport, ReconcileReport, ReconcileRun

if TYPE_CHECKING:
    from ..context import Context
    from ..webhooks.service import WebhookService

Progress = Callable[[str, int], None]   # (stage, items done so far)
log = logging.getLogger("billingos.reconcile")
#: ``started_by`` when the caller names nobody.
STARTED_BY = {"admin": "admin", "cli": "command line", "task": "hourly task", "code": "billing.reconcile()"}


@dataclass
class _Plan:
    """One kind's comparison: what was applied, and which local objects are gone in Stripe (not yet removed)."""

    reconciler: Reconciler
    checked: int
    created: list[str]
    updated: list[str]
    gone: list[str]
    local: int
    limit: int          # how many may be removed without force
    cut: bool           # stopped counting ``gone`` past the limit


@dataclass
class Reconciler:
    """How to reconcile one kind: Stripe's full list, the local ids, ``apply(session, obj)`` (sync one
    listed object; returns "created", "updated" or None when nothing changed), and the kind's mirror (to
    fetch an object missing from the list and apply its absence). ``removable_ids``: the local objects whose
    absence in Stripe would still change something (default: all of ``local_ids``); the removal limit is a
    share of these. ``routine``: part of every run; a kind that is not (its list costs a call per customer)
    runs only when named in ``run(kinds=...)``."""

    kind: str
    list_remote: Callable[[], Iterable[dict[str, Any]]]
    local_ids: Callable[[], set[str]]
    apply: Callable[[Session, dict[str, Any]], str | None]
    mirror: Mirror
    removable_ids: Callable[[], set[str]] | None = None
    routine: bool = True


class ReconcileService:
    def __init__(self, ctx: Context, *, webhooks: WebhookService, threshold: int = 10,
                 lookback: timedelta = timedelta(days=3)) -> None:
        self._ctx = ctx
        self._webhooks = webhooks
        self.threshold, self.lookback = threshold, lookback
        self.reconcilers: list[Reconciler] = []
        ctx.tasks.every("reconcile", timedelta(hours=1), lambda: self.run(source="task"))

    def __call__(self, *, lookback: timedelta | None = None, progress: Progress | None = None,
                 force: bool = False, dry_run: bool = False, source: str = "code",
                 started_by: str | None = None, kinds: Iterable[str] | None = None) -> ReconcileReport:
        """``billing.reconcile()`` is ``billing.reconcile.run()``."""
        return self.run(lookback=lookback, progress=progress, force=force, dry_run=dry_run, source=source,
                        started_by=started_by, kinds=kinds)

    def add(self, reconciler: Reconciler) -> None:
        self.reconcilers.append(reconciler)

    def run(self, *, lookback: timedelta | None = None, progress: Progress | None = None,
            force: bool = False, dry_run: bool = False, source: str = "code",
            started_by: str | None = None, kinds: Iterable[str] | None = None) -> ReconcileReport:
        """Backfill missed events, then make each kind match Stripe's full list: the routine kinds, or the
        ``kinds`` named (``payment_methods`` is not routine: it lists each customer's cards, a call each).

        A run that would remove more than ``reconcile_max_removal`` (config, default 10%) of a kind's local
        objects raises ReconcileRefusedError before removing any: an empty or foreign Stripe looks exactly
        like everything having been deleted. ``force=True`` removes them anyway. ``dry_run=True`` writes
        nothing and reports what a run would change (``report.dry_run``; each kind's ``removal_limit``).

        Every run is stored (``runs()``), a failed one with its error: ``source`` says where it came from
        (admin, cli, task or code) and ``started_by`` who or what started it (by default the source)."""
        window = self.lookback if lookback is None else lookback
        if not isinstance(window, timedelta) or not timedelta(0) < window <= timedelta(days=30):
            raise InvalidInputError("lookback must be a timedelta between 0 and 30 days (the Events API keeps "
                                    f"30 days), got {validation.echo(window)}.", param="lookback")
        if progress is not None:
            validation.callable_(progress, "progress")
        validation.boolean(force, "force")
        validation.boolean(dry_run, "dry_run")
        validation.choice(source, "source", SOURCES)
        chosen = self._chosen(kinds)
        by = validation.text(started_by, "started_by", max_length=120, required=True) if started_by is not None \
            else STARTED_BY[source]
        started = self._ctx.now()
        report: ReconcileReport | None = None
        error: str | None = None
        try:
            report = self._run(window, progress, force, dry_run, chosen)
            return report
        except Exception as err:
            error = (str(err) or type(err).__name__)[:500]
            raise
        finally:   # interrupted (KeyboardInterrupt in the CLI): neither a report nor an error
            self._record(started, source, str(by), dry_run, report, error or (None if report else "interrupted"))

    def runs(self, *, limit: int = 20, after: str | None = None) -> Page[ReconcileRun]:
        """The stored runs, newest first, a page at a time (``after``: the previous page's ``next_cursor``)."""
        limit = validation.limit(limit)
        start = validation.cursor_row(after, "rr")
        query = select(BillingReconcileRun).order_by(BillingReconcileRun.id.desc()).limit(limit + 1)
        if start is not None:
            query = query.where(BillingReconcileRun.id < start)
        with self._ctx.session_factory() as s:
            rows, cursor = validation.keyset_page(list(s.scalars(query)), limit, "rr")
        return Page[ReconcileRun](items=[ReconcileRun.from_row(r) for r in rows], next_cursor=cursor)

    def _record(self, started: Any, source: str, by: str, dry_run: bool, report: ReconcileReport | None,
                error: str | None) -> None:
        kinds = report.kinds if report is not None else []
        try:
            with self._ctx.transaction() as s:
                s.add(BillingReconcileRun(
                    started_at=started, finished_at=self._ctx.now(), source=source, started_by=by, dry_run=dry_run,
                    fixed=report.fixed if report is not None else 0, created=sum(len(k.created) for k in kinds),
                    updated=sum(len(k.updated) for k in kinds), removed=sum(len(k.removed) for k in kinds),
                    error=error, report=report.model_dump(mode="json") if report is not None else {}))
        except Exception:   # the run's own outcome (or error) matters more than its record
            log.exception("billingos reconcile: the run could not be recorded")

    def _chosen(self, kinds: Iterable[str] | None) -> list[Reconciler]:
        if kinds is None:
            return [r for r in self.reconcilers if r.routine]
        known = {r.kind: r for r in self.reconcilers}
        names = validation.keys(kinds, "kinds")
        for name in names:
            validation.choice(name, "kinds", tuple(known))
        return [known[n] for n in dict.fromkeys(names)]

    def _run(self, window: timedelta, progress: Progress | None, force: bool, dry_run: bool,
             chosen: list[Reconciler]) -> ReconcileReport:
        backfilled, processed = (self._unseen_events(window), 0) if dry_run else self._backfill(window, progress)
        plans = [self._compare(r, progress, dry_run=dry_run, stop=not (force or dry_run)) for r in chosen]
        over = [p for p in plans if len(p.gone) > p.limit]
        if over and not force and not dry_run:
            raise ReconcileRefusedError(
                "reconcile refused to remove "
                + "; ".join(f"{'at least ' if p.cut else ''}{len(p.gone)} of {p.local} local {p.reconciler.kind} "
                            f"(the limit is {p.limit})" for p in over)
                + f": more than reconcile_max_removal ({self._share():.0%}) of a kind in one run. Nothing was "
                "removed. Check that billingos uses the right Stripe account (key, emulator state); if Stripe is "
                "right, run again with force=True (billingos reconcile --force).",
                kinds={p.reconciler.kind: {"gone": len(p.gone), "local": p.local, "limit": p.limit} for p in over})
        kinds = [KindReport(kind=p.reconciler.kind, checked=p.checked, created=p.created, updated=p.updated,
                            removed=p.gone if dry_run else [i for i in p.gone if self.refresh(p.reconciler.mirror, i)
                                                            is None],
                            removal_limit=p.limit) for p in plans]
        report = ReconcileReport(events_backfilled=backfilled, events_processed=processed, kinds=kinds,
                                 dry_run=dry_run)
        if not dry_run:
            self._ctx.events.publish(None, ReconcileCompleted(report))
        if report.fixed > self.threshold and not dry_run:
            self._ctx.events.publish(None, ReconciliationFixed(report))
        return report

    def _share(self) -> float:
        return float(self._ctx.config.reconcile_max_removal)

    def _unseen_events(self, window: timedelta) -> int:
        """How many events of the window a run would backfill (dry run: nothing is stored)."""
        since = int((self._ctx.now() - window).timestamp())
        events = call_stripe(self._ctx.stripe.v1.events.list, params={"created": {"gte": since}, "limit": 100})
        ids = [e["id"] for e in events.auto_paging_iter()]
        with self._ctx.session_factory() as s:
            known = set(s.scalars(select(BillingWebhookEvent.stripe_event_id).where(
                BillingWebhookEvent.stripe_event_id.in_(ids)))) if ids else set()
        return len(set(ids) - known)

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

    def _compare(self, r: Reconciler, progress: Progress | None, *, dry_run: bool, stop: bool) -> _Plan:
        """Apply each listed object unless a newer state arrived after the comparison began: versions are
        read first, so a listed object (fetched after that) is at least as new as anything applied before.
        Local objects missing from the list are fetched one by one: those still in Stripe are applied, those
        gone are returned, not removed (``run`` removes them once every kind is within its limit).
        ``dry_run``: each apply runs in a transaction that is rolled back. ``stop``: stop fetching once more
        than the limit are gone (the run is refused anyway)."""
        created: list[str] = []
        updated: list[str] = []
        local = r.local_ids()
        with self._ctx.session_factory() as s:
            versions = read_versions(s, [r.mirror.lock(i) for i in local])
        seen: set[str] = set()
        for n, obj in enumerate(r.list_remote(), 1):
            seen.add(obj["id"])
            outcome = self._dry_apply(r, obj) if dry_run else self._apply(r, obj, versions)
            if outcome == "created":
                created.append(obj["id"])
            elif outcome == "updated":
                updated.append(obj["id"])
            if progress:
                progress(r.kind, n)
        removable = local if r.removable_ids is None else r.removable_ids() & local
        limit = int(len(removable) * self._share() + 1e-9)
        gone: list[str] = []
        cut = False
        for sid in sorted(removable - seen):
            if stop and len(gone) > limit:
                cut = True
                break
            current = r.mirror.fetch(sid)
            if current is None:
                gone.append(sid)
            elif not dry_run:
                self.refresh(r.mirror, sid)      # in Stripe but not listed: applied like any other
        return _Plan(r, len(seen), created, updated, gone, len(removable), limit, cut)

    def _apply(self, r: Reconciler, obj: dict[str, Any], versions: dict[str, int]) -> str | None:
        lock = r.mirror.lock(obj["id"])
        r.mirror.prepare(obj)
        with self._ctx.transaction() as session:
            return r.apply(session, obj) if claim_fresh(session, lock, versions.get(lock, 0)) else None

    def _dry_apply(self, r: Reconciler, obj: dict[str, Any]) -> str | None:
        """What applying ``obj`` would do, in a transaction rolled back (no prepare(): it writes)."""
        with self._ctx.session_factory() as session:
            try:
                return r.apply(session, obj)
            finally:
                session.rollback()

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
