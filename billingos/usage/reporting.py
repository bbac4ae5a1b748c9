"""The Stripe push: meter events built from summary deltas, sent with idempotent identifiers, as jobs.

1. **Stage** (one short transaction): each summary whose ``version`` moved past ``staged_version`` becomes
   one job on the ``usage.push`` queue carrying the delta ``value - staged_value`` (``sum`` and ``count``
   Stripe meters) or the new total (``last`` meters). The job's key is the meter event ``identifier``, a
   hash of (owner, meter, period, version): the same change always has the same identifier. Summaries are
   claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers stage disjoint summaries.
2. **Send**: the jobs primitive claims due jobs under a lease; each is sent and marked done. While Stripe
   is down or erroring a job backs off exponentially (30 s doubling to 1 h, for ever: nothing is lost);
   a refusal (4xx) is dead at once (replayable). Stripe refuses a repeated identifier for 24 hours, which
   billingos treats as delivered, so a job sent twice (a crash after the call, an expired lease) counts once.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..catalog.models import BillingMeter
from ..clock import utc
from ..customers.models import BillingCustomer
from ..errors import BillingError, StripeRequestError, StripeUnavailableError
from ..jobs import Job, NewJob
from ..stripe_api import call_stripe
from .models import BillingUsageSummary
from .schemas import PushReport, UsageDrift

if TYPE_CHECKING:
    from ..context import Context

QUEUE = "usage.push"
STRIPE_WINDOW = timedelta(days=35)          # Stripe takes meter events at most 35 days old
MAX_FANOUT = 1000                           # count meters: one Stripe event per unit of delta
DUPLICATE = "already exists with identifier"


class RetryLater(Exception):
    """Stripe is down, erroring, or the owner has no Stripe customer yet: back off and try again."""


class Refused(Exception):
    """Stripe refused the event (or it can never be sent): dead at once."""


def identifier(owner_id: str, meter: str, period_start: datetime, version: int) -> str:
    digest = hashlib.sha256(f"{owner_id}\x1f{meter}\x1f{period_start.isoformat()}\x1f{version}".encode())
    return "bos_" + digest.hexdigest()[:40]


class UsageReporter:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._report = threading.local()          # the PushReport of the push() running in this thread
        ctx.jobs.define(QUEUE, self._work, max_attempts=None, base_delay=timedelta(seconds=30),
                        max_delay=timedelta(hours=1), batch=500)

    def run(self, *, limit: int = 500) -> PushReport:
        report = PushReport()
        report.staged = self.stage(limit=limit)
        self._report.current = report
        try:
            self._ctx.jobs.run(QUEUE, limit=limit)
        finally:
            self._report.current = None
        return report

    # --- stage ---------------------------------------------------------------------------------------
    def stage(self, *, limit: int = 500) -> int:
        ctx = self._ctx
        now = ctx.now()
        t = BillingUsageSummary
        jobs: list[NewJob] = []
        with ctx.transaction() as s:
            stmt = select(t).where(t.version > t.staged_version).order_by(t.id).limit(limit)
            if ctx.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = list(s.scalars(stmt))
            meters = {m.event_name: m for m in s.scalars(select(BillingMeter).where(
                BillingMeter.event_name.in_({r.meter for r in rows}), BillingMeter.status == "active"))}
            for row in rows:
                meter = meters.get(row.meter)
                value: int | None = None
                if meter is not None and meter.aggregation == "last":
                    changed = row.value != row.staged_value or row.staged_version == 0
                    value = row.value if changed else None
                elif meter is not None and row.value != row.staged_value:
                    value = row.value - row.staged_value
                if value is not None:
                    ts = min(max(now, row.period_start), row.period_end - timedelta(seconds=1))
                    ident = identifier(row.owner_id, row.meter, row.period_start, row.version)
                    jobs.append(NewJob(ident, group=f"summary:{row.id}", payload={
                        "owner_id": row.owner_id, "meter": row.meter, "value": value,
                        "timestamp": int(ts.timestamp()), "period_end": int(row.period_end.timestamp())}))
                row.staged_version, row.staged_value = row.version, row.value
            ctx.jobs.enqueue_many(s, QUEUE, jobs, trigger=False)     # one statement for the whole stage
        return len(jobs)

    # --- send ----------------------------------------------------------------------------------------
    def _work(self, jobs: list[Job]) -> None:
        report: PushReport = getattr(self._report, "current", None) or PushReport()
        with self._ctx.session_factory() as s:
            owners = {j.payload["owner_id"] for j in jobs}
            customers = dict(s.execute(select(BillingCustomer.owner_id, BillingCustomer.stripe_id).where(
                BillingCustomer.owner_id.in_(owners), BillingCustomer.deleted_at.is_(None))).all())
            meters = {m.event_name: m for m in s.scalars(select(BillingMeter).where(
                BillingMeter.event_name.in_({j.payload["meter"] for j in jobs}), BillingMeter.status == "active"))}
        sent: list[Job] = []
        for job in jobs:
            try:
                self.deliver(job, customers.get(job.payload["owner_id"]), meters.get(job.payload["meter"]))
            except (RetryLater, Refused) as e:
                report.errors.append(f"{job.key}: {e}")
                if isinstance(e, RetryLater):
                    report.retrying += 1
                else:
                    report.failed += 1
                self._ctx.jobs.failed([job], e, permanent=isinstance(e, Refused))
                continue
            sent.append(job)
            report.sent += 1
        if sent:
            with self._ctx.transaction() as s:
                self._ctx.jobs.done(s, sent, result="sent")

    def deliver(self, job: Job, customer: str | None, meter: Any) -> None:
        """Send one job's meter event(s). RetryLater or Refused when it could not be delivered."""
        p = job.payload
        if meter is None:
            raise Refused(f"no active Stripe meter for {p['meter']!r}")
        if customer is None:
            raise RetryLater(f"owner {p['owner_id']!r} has no Stripe customer yet")
        at = utc(p["timestamp"])
        assert at is not None
        if self._ctx.now() - at > STRIPE_WINDOW:
            raise Refused("older than Stripe's 35-day meter event window")
        value = int(p["value"])
        if meter.aggregation == "count":
            if value < 0 or value > MAX_FANOUT:
                raise Refused(f"a count meter takes one event per unit; a delta of {value} cannot be sent "
                              "(use a sum meter)")
            calls = [(f"{job.key}.{i}", 1) for i in range(value)]
        else:
            calls = [(job.key, value)]
        payload_customer = meter.customer_payload_key or "stripe_customer_id"
        payload_value = meter.value_payload_key or "value"
        try:
            for ident, amount in calls:
                self._create(ident, p["meter"], p["timestamp"],
                             {payload_customer: customer, payload_value: str(amount)})
        except StripeUnavailableError as e:
            raise RetryLater(e.message) from e
        except StripeRequestError as e:
            if (e.http_status or 500) >= 500 or e.http_status == 429:
                raise RetryLater(e.message) from e
            raise Refused(e.message) from e
        except BillingError as e:
            raise Refused(e.message) from e

    def _create(self, ident: str, event_name: str, ts: int, payload: dict[str, str]) -> None:
        try:
            call_stripe(self._ctx.stripe.v1.billing.meter_events.create,
                        params={"event_name": event_name, "identifier": ident, "timestamp": ts, "payload": payload})
        except StripeRequestError as e:
            if DUPLICATE in (e.message or ""):
                return     # Stripe already has this identifier: it was delivered before
            raise

    # --- reconcile -----------------------------------------------------------------------------------
    def reconcile(self, *, owner_id: str | None = None, meter: str | None = None) -> list[UsageDrift]:
        ctx = self._ctx
        now = ctx.now()
        t = BillingUsageSummary
        with ctx.session_factory() as s:
            stmt = select(t).where(t.period_end > now - STRIPE_WINDOW).order_by(t.owner_id, t.meter, t.period_start)
            if owner_id is not None:
                stmt = stmt.where(t.owner_id == owner_id)
            if meter is not None:
                stmt = stmt.where(t.meter == meter)
            rows = list(s.scalars(stmt))
            meters = {m.event_name: m for m in s.scalars(select(BillingMeter).where(BillingMeter.status == "active"))}
            customers = dict(s.execute(select(BillingCustomer.owner_id, BillingCustomer.stripe_id)).all())
        pending: dict[str, int] = {}
        for status in ("pending", "running", "failed"):
            for job in ctx.jobs.list(queue=QUEUE, status=status, limit=1_000_000):
                pending[job.group_key or ""] = pending.get(job.group_key or "", 0) + 1
        out: list[UsageDrift] = []
        for row in rows:
            m, cust = meters.get(row.meter), customers.get(row.owner_id)
            if m is None or cust is None:
                continue
            start = int(row.period_start.timestamp()) // 60 * 60
            end = -(-int(row.period_end.timestamp()) // 60) * 60
            page = call_stripe(ctx.stripe.v1.billing.meters.event_summaries.list, m.stripe_id,
                               params={"customer": cust, "start_time": start, "end_time": end})
            remote = sum(float(x.aggregated_value) for x in page.data)
            waiting = pending.get(f"summary:{row.id}", 0) + (1 if row.version > row.staged_version else 0)
            status = "in_sync" if remote == row.value else ("pending" if waiting else "drift")
            out.append(UsageDrift(row.owner_id, row.meter, row.period_start, row.period_end, row.value, remote,
                                  waiting, status))  # type: ignore[arg-type]
        return out
