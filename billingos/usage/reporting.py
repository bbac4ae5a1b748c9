"""The Stripe push: an outbox of meter events built from summary deltas, sent with idempotent identifiers.

1. **Stage** (one short transaction): each summary whose ``version`` moved past ``staged_version`` becomes
   one outbox row carrying the delta ``value - staged_value`` (``sum`` and ``count`` Stripe meters) or the
   new total (``last`` meters). The row's ``identifier`` is a hash of (owner, meter, period, version): the
   same change always has the same identifier. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so several workers stage disjoint summaries; a summary locked by an open ``track`` waits.
2. **Send**: due rows are claimed atomically (``UPDATE ... WHERE status = 'pending' ... RETURNING``, with
   ``SKIP LOCKED`` on PostgreSQL) under a lease, sent, and marked ``sent``. A failure while Stripe is
   down or erroring puts the row back with exponential backoff; a refusal (4xx) marks it ``failed``.
   Stripe refuses a repeated identifier for 24 hours, which billingos treats as delivered, so a row sent
   twice (a crash after the call, an expired lease) is counted once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from ..catalog.models import BillingMeter
from ..customers.models import BillingCustomer
from ..errors import BillingError, StripeRequestError, StripeUnavailableError
from ..stripe_api import call_stripe
from .models import BillingUsagePush, BillingUsageSummary
from .schemas import PushReport, UsageDrift

if TYPE_CHECKING:
    from ..billing import Billing
    from .service import UsageService

LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
STRIPE_WINDOW = timedelta(days=35)          # Stripe takes meter events at most 35 days old
MAX_FANOUT = 1000                           # count meters: one Stripe event per unit of delta
DUPLICATE = "already exists with identifier"


def identifier(owner_id: str, meter: str, period_start: datetime, version: int) -> str:
    digest = hashlib.sha256(f"{owner_id}\x1f{meter}\x1f{period_start.isoformat()}\x1f{version}".encode())
    return "bos_" + digest.hexdigest()[:40]


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


class UsageReporter:
    def __init__(self, billing: Billing, usage: UsageService) -> None:
        self._billing = billing
        self._usage = usage

    def run(self, *, limit: int = 500) -> PushReport:
        report = PushReport()
        report.staged = self.stage(limit=limit)
        self.send(report, limit=limit)
        return report

    # --- stage ---------------------------------------------------------------------------------------
    def stage(self, *, limit: int = 500) -> int:
        billing = self._billing
        now = billing.now()
        t = BillingUsageSummary
        staged = 0
        with billing.transaction() as s:
            stmt = select(t).where(t.version > t.staged_version).order_by(t.id).limit(limit)
            if s.get_bind().dialect.name == "postgresql":
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
                    s.add(BillingUsagePush(
                        identifier=identifier(row.owner_id, row.meter, row.period_start, row.version),
                        summary_id=row.id, owner_id=row.owner_id, meter=row.meter, period_start=row.period_start,
                        period_end=row.period_end, value=value, event_timestamp=ts, status="pending", attempts=0,
                        next_attempt_at=now, created_at=now))
                    staged += 1
                row.staged_version, row.staged_value = row.version, row.value
        return staged

    # --- send ----------------------------------------------------------------------------------------
    def _claim(self, limit: int) -> list[BillingUsagePush]:
        now = self._billing.now()
        p = BillingUsagePush
        due = or_((p.status == "pending") & (p.next_attempt_at <= now),
                  (p.status == "sending") & (p.claimed_until < now))
        with self._billing.transaction() as s:
            ids = select(p.id).where(due).order_by(p.id).limit(limit)
            if s.get_bind().dialect.name == "postgresql":
                ids = ids.with_for_update(skip_locked=True)
            stmt = (update(p).where(p.id.in_(ids.scalar_subquery()), due)
                    .values(status="sending", claimed_until=now + LEASE, attempts=p.attempts + 1)
                    .returning(p).execution_options(synchronize_session=False))
            return list(s.scalars(stmt))

    def send(self, report: PushReport, *, limit: int = 500) -> None:
        rows = self._claim(limit)
        if not rows:
            return
        with self._billing.session_factory() as s:
            owners = {r.owner_id for r in rows}
            customers = dict(s.execute(select(BillingCustomer.owner_id, BillingCustomer.stripe_id).where(
                BillingCustomer.owner_id.in_(owners), BillingCustomer.deleted_at.is_(None))).all())
            meters = {m.event_name: m for m in s.scalars(select(BillingMeter).where(
                BillingMeter.event_name.in_({r.meter for r in rows}), BillingMeter.status == "active"))}
        for row in rows:
            outcome, error = self._deliver(row, customers.get(row.owner_id), meters.get(row.meter))
            self._settle(row, outcome, error)
            if outcome == "sent":
                report.sent += 1
            elif outcome == "pending":
                report.retrying += 1
            else:
                report.failed += 1
            if error:
                report.errors.append(f"{row.identifier}: {error}")

    def _deliver(self, row: BillingUsagePush, customer: str | None, meter: Any) -> tuple[str, str | None]:
        now = self._billing.now()
        if meter is None:
            return "failed", f"no active Stripe meter for {row.meter!r}"
        if customer is None:
            return "pending", f"owner {row.owner_id!r} has no Stripe customer yet"
        if now - row.event_timestamp > STRIPE_WINDOW:
            return "failed", "older than Stripe's 35-day meter event window"
        formula = meter.aggregation
        ts = int(row.event_timestamp.timestamp())
        if formula == "count":
            if row.value < 0 or row.value > MAX_FANOUT:
                return "failed", (f"a count meter takes one event per unit; a delta of {row.value} cannot be sent "
                                  "(use a sum meter)")
            calls = [(f"{row.identifier}.{i}", 1) for i in range(row.value)]
        else:
            calls = [(row.identifier, row.value)]
        payload_customer = meter.customer_payload_key or "stripe_customer_id"
        payload_value = meter.value_payload_key or "value"
        try:
            for ident, value in calls:
                self._create(ident, row.meter, ts, {payload_customer: customer, payload_value: str(value)})
        except StripeUnavailableError as e:
            return "pending", e.message
        except StripeRequestError as e:
            if (e.http_status or 500) >= 500 or e.http_status == 429:
                return "pending", e.message
            return "failed", e.message
        except BillingError as e:
            return "failed", e.message
        return "sent", None

    def _create(self, ident: str, event_name: str, ts: int, payload: dict[str, str]) -> None:
        try:
            call_stripe(self._billing.stripe.v1.billing.meter_events.create,
                        params={"event_name": event_name, "identifier": ident, "timestamp": ts, "payload": payload})
        except StripeRequestError as e:
            if DUPLICATE in (e.message or ""):
                return     # Stripe already has this identifier: it was delivered before
            raise

    def _settle(self, row: BillingUsagePush, outcome: str, error: str | None) -> None:
        now = self._billing.now()
        p = BillingUsagePush
        values: dict[str, Any] = {"status": outcome, "last_error": (error or None) and error[:1000],
                                  "claimed_until": None}
        if outcome == "sent":
            values["sent_at"] = now
        elif outcome == "pending":
            values["next_attempt_at"] = now + backoff(row.attempts)
        with self._billing.transaction() as s:
            s.execute(update(p).where(p.id == row.id, p.status == "sending", p.attempts == row.attempts)
                      .values(**values).execution_options(synchronize_session=False))

    # --- reconcile -----------------------------------------------------------------------------------
    def reconcile(self, *, owner_id: str | None = None, meter: str | None = None) -> list[UsageDrift]:
        billing = self._billing
        now = billing.now()
        t, p = BillingUsageSummary, BillingUsagePush
        with billing.session_factory() as s:
            stmt = select(t).where(t.period_end > now - STRIPE_WINDOW).order_by(t.owner_id, t.meter, t.period_start)
            if owner_id is not None:
                stmt = stmt.where(t.owner_id == owner_id)
            if meter is not None:
                stmt = stmt.where(t.meter == meter)
            rows = list(s.scalars(stmt))
            meters = {m.event_name: m for m in s.scalars(select(BillingMeter).where(BillingMeter.status == "active"))}
            customers = dict(s.execute(select(BillingCustomer.owner_id, BillingCustomer.stripe_id)).all())
            pending: dict[int, int] = {}
            for sid, in s.execute(select(p.summary_id).where(p.status.in_(("pending", "sending")))):
                pending[sid] = pending.get(sid, 0) + 1
        out: list[UsageDrift] = []
        for row in rows:
            m, cust = meters.get(row.meter), customers.get(row.owner_id)
            if m is None or cust is None:
                continue
            start = int(row.period_start.timestamp()) // 60 * 60
            end = -(-int(row.period_end.timestamp()) // 60) * 60
            page = call_stripe(billing.stripe.v1.billing.meters.event_summaries.list, m.stripe_id,
                               params={"customer": cust, "start_time": start, "end_time": end})
            remote = sum(float(x.aggregated_value) for x in page.data)
            waiting = pending.get(row.id, 0) + (1 if row.version > row.staged_version else 0)
            status = "in_sync" if remote == row.value else ("pending" if waiting else "drift")
            out.append(UsageDrift(row.owner_id, row.meter, row.period_start, row.period_end, row.value, remote,
                                  waiting, status))  # type: ignore[arg-type]
        return out
