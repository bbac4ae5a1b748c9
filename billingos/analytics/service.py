"""``billing.analytics``: the subscription ledger and the revenue figures computed from it.

The ledger is posted inside the transaction of every subscription sync (``SubscriptionSynced``, in
transaction), so revenue history commits with the state it derives from or not at all."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .. import validation
from ..db import upsert
from ..domain_events import SubscriptionSynced
from ..errors import InvalidInputError
from ..money import CURRENCY_EXPONENTS, Money
from . import queries, reports
from .ledger import ORDER, LedgerWriter, evidence_of
from .models import BillingFxRate
from .models import BillingLedgerEntry as L
from .periods import INTERVALS, MAX_INTERVALS, boundaries, moment, shift
from .schemas import Cohort, LedgerEntry, Movement, Point, TopCustomer, ratio, round_half_even
from .series import METRICS, value_of

if TYPE_CHECKING:
    from ..context import Context
    from .backfill import BackfillReport

__all__ = ["AnalyticsService"]

MAX_TOP = 1000


class AnalyticsService:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self.settings = ctx.config.analytics
        self.currency = self.settings.reporting_currency or ctx.config.default_currency
        self.writer = LedgerWriter(self.settings)
        ctx.events.subscribe_in_transaction(SubscriptionSynced, self._synced)

    # --- the ledger ------------------------------------------------------------------------------
    def _synced(self, session: Session, event: SubscriptionSynced) -> None:
        previous = event.before.model_dump() if event.before is not None else None
        now = self._ctx.now()
        for evidence in evidence_of(event.data, event.stripe_events, now=now, previous=previous):
            self.writer.post(session, evidence, owner_id=event.after.owner_id, now=now)

    def ledger(self, *, customer: str | None = None, subscription: str | None = None,
               start: date | datetime | None = None, end: date | datetime | None = None,
               limit: int = 100) -> builtins.list[LedgerEntry]:
        """The ledger's rows in order (oldest first), for one customer or subscription or all, effective in
        ``[start, end)``; the last ``limit`` (at most 10,000) of them."""
        limit = validation.limit(limit, maximum=10_000)
        q = self._ledger_query(customer, subscription, start, end)
        with self._read() as s:
            rows = list(s.scalars(q.order_by(*(c.desc() for c in ORDER)).limit(limit)))
        return [_entry(r) for r in reversed(rows)]

    def _ledger_query(self, customer: Any, subscription: Any, start: Any, end: Any) -> Any:
        q = select(L)
        if customer is not None:
            q = q.where(L.customer_stripe_id == validation.stripe_id(customer, "cus", "customer"))
        if subscription is not None:
            q = q.where(L.subscription_stripe_id == validation.stripe_id(subscription, "sub", "subscription"))
        if start is not None:
            q = q.where(L.effective_at >= moment(start, "start"))
        if end is not None:
            q = q.where(L.effective_at < moment(end, "end"))
        return q

    def ledger_rows(self, start: date | datetime, end: date | datetime) -> Iterator[LedgerEntry]:
        """Every row effective in ``[start, end)``, oldest first, read in batches (for exports)."""
        q = self._ledger_query(None, None, *self._range(start, end)).order_by(*ORDER)   # checked now, not lazily

        def rows() -> Iterator[LedgerEntry]:
            with self._read() as s:
                for r in s.scalars(q.execution_options(yield_per=2000)):
                    yield _entry(r)
        return rows()

    # --- figures at an instant -------------------------------------------------------------------
    def mrr(self, at: date | datetime | None = None) -> Money:
        """Monthly recurring revenue at ``at`` (default now), in the reporting currency."""
        when = self._at(at)
        with self._read() as s:
            per = queries.mrr_by_currency(s, when)
            from .fx import Rates
            return Money(Rates(s, self.currency, per).convert(per, when.date()), self.currency)

    def arr(self, at: date | datetime | None = None) -> Money:
        """MRR × 12."""
        m = self.mrr(at)
        return Money(m.amount * 12, m.currency)

    def active_subscribers(self, at: date | datetime | None = None) -> int:
        """Paying customers (MRR above 0) at ``at``."""
        when = self._at(at)
        with self._read() as s:
            return queries.paying_customers(s, when)

    def arpa(self, at: date | datetime | None = None) -> Money | None:
        """MRR ÷ paying customers (None without paying customers)."""
        when = self._at(at)
        n = self.active_subscribers(when)
        mrr = self.mrr(when)
        return Money(round_half_even(Decimal(mrr.amount) / n), self.currency) if n else None

    def ltv(self, at: date | datetime | None = None) -> Money | None:
        """ARPA ÷ the average monthly customer churn rate over the ``ltv_months`` whole months before
        ``at``'s month. None means undefined: no churn in that window (never infinity)."""
        when = self._at(at)
        month = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        bounds = [shift(month, "month", -n) for n in range(self.settings.ltv_months, -1, -1)]
        with self._read() as s:
            months = reports.movements(s, bounds, self.settings, self.currency)
        return reports.ltv(self.arpa(when), months)

    def top_customers(self, at: date | datetime | None = None, limit: int = 10) -> builtins.list[TopCustomer]:
        """The customers with the most MRR at ``at``, biggest first (in their own currency, ranked as stored;
        ``mrr`` converted)."""
        when = self._at(at)
        limit = validation.limit(limit, maximum=MAX_TOP)
        with self._read() as s:
            rows = queries.top_customers(s, when, limit)
            from .fx import Rates
            rates = Rates(s, self.currency, {cur for _, _, cur, _ in rows})
            out = [TopCustomer(c, o, Money(rates.convert({cur: v}, when.date()), self.currency), Money(v, cur))
                   for c, o, cur, v in rows]
        return sorted(out, key=lambda t: (-t.mrr.amount, t.customer))

    # --- figures over a range --------------------------------------------------------------------
    def movements(self, start: date | datetime, end: date | datetime,
                  interval: str = "month") -> builtins.list[Movement]:
        """New, expansion, contraction, churn, reactivation and FX per interval of ``[start, end)``."""
        bounds = self._bounds(start, end, interval)
        with self._read() as s:
            return reports.movements(s, bounds, self.settings, self.currency)

    def spans(self, *bounds: date | datetime) -> builtins.list[Movement]:
        """One Movement per span between consecutive ``bounds`` (increasing), each customer compared at the
        span's two ends: ``spans(start, end)[0]`` is the whole range as one interval, so its ``.nrr``, ``.grr``
        and ``.customer_churn_rate`` are the range's own, not averages of intervals; ``spans(before, start,
        end)`` gives a range and the one before it from one report."""
        if not 2 <= len(bounds) <= MAX_INTERVALS + 1:
            raise InvalidInputError(f"spans takes 2 to {MAX_INTERVALS + 1:,} instants, got {len(bounds):,}.",
                                    param="bounds")
        at = [moment(b, "bounds") for b in bounds]
        for a, b in pairwise(at):
            if b <= a:
                raise InvalidInputError(f"bounds must increase, got {a.isoformat()} then {b.isoformat()}.",
                                        param="bounds")
        with self._read() as s:
            return reports.movements(s, at, self.settings, self.currency)

    def cohorts(self, start: date | datetime, end: date | datetime) -> builtins.list[Cohort]:
        """Monthly cohorts (customers by the month they first paid) with NRR and GRR per month since."""
        bounds = self._bounds(start, end, "month")
        with self._read() as s:
            return reports.cohorts(s, bounds, self.currency)

    def trial_conversion(self, start: date | datetime, end: date | datetime) -> Decimal | None:
        """Of the trials that ended in ``[start, end)``, the share that became paying."""
        a, b = self._range(start, end)
        with self._read() as s:
            ended, converted = queries.trial_outcomes(s, a, b)
        return ratio(converted, ended)

    def recovery_rate(self, start: date | datetime, end: date | datetime) -> Decimal | None:
        """Failed invoice volume later recovered ÷ failed invoice volume, for invoices created in the range
        whose dunning window (``dunning_window_days``) has closed; the first invoice after a trial left out."""
        a, b = self._range(start, end)
        closed = self._ctx.now() - timedelta(days=self.settings.dunning_window_days)
        with self._read() as s:
            volumes = queries.failed_invoice_volume(s, a, b, closed)
            from .fx import Rates
            rates = Rates(s, self.currency, volumes)
            day = min(b, self._ctx.now()).date()
            failed = rates.convert({c: v[0] for c, v in volumes.items()}, day)
            recovered = rates.convert({c: v[1] for c, v in volumes.items()}, day)
        return ratio(recovered, failed)

    def series(self, metric: str, start: date | datetime, end: date | datetime,
               interval: str = "month") -> builtins.list[Point]:
        """``metric`` per interval of ``[start, end)``, each point with the value one whole range earlier."""
        metric = validation.choice(metric, "metric", METRICS)
        bounds = self._bounds(start, end, interval)
        n = len(bounds) - 1
        prev = [shift(bounds[0], interval, -i) for i in range(n, 0, -1)]
        combined = prev + bounds
        with self._read() as s:
            values = value_of(s, metric, combined, self.settings, self.currency)
        return [Point(bounds[i], bounds[i + 1], values[n + i], values[i]) for i in range(n)]

    def export(self, kind: str, start: date | datetime, end: date | datetime, interval: str = "month") -> str:
        """CSV text of a report: ``movements``, ``cohorts``, ``ledger``, ``top_customers`` or any series metric."""
        from .export import KINDS, to_csv
        kind = validation.choice(kind, "kind", KINDS)
        return to_csv(self, kind, start, end, interval)

    # --- rates -----------------------------------------------------------------------------------
    def set_rate(self, currency: str, rate: Decimal | str | int, on: date) -> None:
        """From ``on``: 1 ``currency`` = ``rate`` reporting-currency units (the host's dated rate table)."""
        if not isinstance(currency, str) or currency.lower() not in CURRENCY_EXPONENTS:
            raise InvalidInputError(f"currency must be a three-letter ISO 4217 code such as 'eur', got "
                                    f"{validation.echo(currency)}.", param="currency")
        currency = currency.lower()
        if currency == self.currency:
            raise InvalidInputError(f"currency is the reporting currency ({currency}); its rate is always 1.",
                                    param="currency")
        value = _rate(rate)
        day = moment(on, "on").date()
        with self._ctx.transaction() as s:
            upsert(s, BillingFxRate, {"currency": currency, "quote": self.currency, "valid_from": day,
                                      "rate": value}, key=["currency", "quote", "valid_from"])

    def rates(self) -> dict[str, builtins.list[tuple[date, Decimal]]]:
        """The rate table into the reporting currency: currency -> [(valid from, rate)], oldest first."""
        with self._read() as s:
            out: dict[str, builtins.list[tuple[date, Decimal]]] = {}
            for cur, day, rate in s.execute(select(BillingFxRate.currency, BillingFxRate.valid_from,
                                                   BillingFxRate.rate).where(BillingFxRate.quote == self.currency)
                                            .order_by(BillingFxRate.currency, BillingFxRate.valid_from)):
                out.setdefault(cur, []).append((day, Decimal(rate)))
        return out

    # --- backfill --------------------------------------------------------------------------------
    def backfill(self, days: float = 30, *, rebuild: bool = False,
                 progress: Callable[[str, int], Any] | None = None) -> BackfillReport:
        """Post the ledger for history that predates it: Stripe's subscriptions (their own timestamps) and
        the Events API (at most 30 days back, exact). ``rebuild`` first empties the ledger (after a
        settings change). ``progress(stage, done)`` is called as it goes."""
        from .backfill import run_backfill
        days = validation.seconds(days, "days", minimum=0, maximum=30, open_minimum=True)
        rebuild = validation.boolean(rebuild, "rebuild")
        if progress is not None:
            validation.callable_(progress, "progress")
        return run_backfill(self._ctx, self, days=days, rebuild=rebuild, progress=progress)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only transaction for reports. On PostgreSQL without JIT: compiling these plans costs
        more (a quarter second and up) than running them."""
        with self._ctx.session_factory() as s, s.begin():
            if self._ctx.dialect == "postgresql":
                s.execute(text("SET LOCAL jit = off"))
            yield s

    # --- argument checks -------------------------------------------------------------------------
    def _at(self, at: Any) -> datetime:
        return self._ctx.now() if at is None else moment(at, "at")

    def _range(self, start: Any, end: Any) -> tuple[datetime, datetime]:
        a, b = moment(start, "start"), moment(end, "end")
        if b <= a:
            raise InvalidInputError(f"end must be after start, got start={a.date().isoformat()} and "
                                    f"end={b.date().isoformat()}.", param="end")
        return a, b

    def _bounds(self, start: Any, end: Any, interval: Any) -> builtins.list[datetime]:
        a, b = self._range(start, end)
        return boundaries(a, b, validation.choice(interval, "interval", INTERVALS))


def _rate(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidInputError(f"rate must be a Decimal, an int or a decimal string, got {validation.echo(value)}.",
                                param="rate")
    try:
        out = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise InvalidInputError(f"rate must be a decimal number, got {validation.echo(value)}.", param="rate") \
            from None
    if not out.is_finite() or not Decimal("1e-9") <= out <= Decimal("1e9"):
        raise InvalidInputError(f"rate must be a positive number from 1e-9 to 1e9, got {validation.echo(str(value))}.",
                                param="rate")
    return out


def _entry(r: L) -> LedgerEntry:
    return LedgerEntry(r.id, r.subscription_stripe_id, r.customer_stripe_id, r.owner_id, r.effective_at.astimezone(UTC),
                       Money(r.mrr_before, r.currency), Money(r.mrr_after, r.currency), r.status_before,
                       r.status_after, r.cause, r.source, r.stripe_event_id)
