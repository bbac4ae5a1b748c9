"""Churn features at a snapshot date, read in SQL from the billing tables: the one place that knows where
the facts live, so it can be pointed at the analytics ledger when that lands.

Every value is what was known at the snapshot date ``at`` (no leakage):

- MRR and seats come from the analytics lane's append-only revenue ledger (``billing_subscription_ledger``:
  the last row of each subscription at or before ``at``, its MRR already normalised and counted as
  ANALYTICS.md says), never from today's ``billing_subscriptions`` row; ``cancel_at_period_end`` is not read
  at all (it is the answer, not a predictor);
- usage counts only events stamped before ``at``;
- a failed payment is an invoice created before ``at - 1 day`` that was not paid within a day of its
  creation, decided from ``stripe_created`` and ``paid_at`` alone (``attempt_count`` is today's value and
  would leak later retries);
- days past due count from the oldest invoice created before ``at`` and unpaid at ``at``.

The label of a snapshot row is whether the customer's MRR went to 0 within ``HORIZON`` after ``at``
(ANALYTICS.md: churn is MRR reaching 0), read from the same ledger. MRR sums minor units across currencies
(the model sees a size, not money); a multi-currency host converts with its own signal if that matters.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from ..analytics.models import BillingLedgerEntry
from ..invoices.models import BillingInvoice
from ..usage.models import BillingUsageEvent

__all__ = ["BUILT_IN", "HORIZON", "Extractor", "History", "Snapshot"]

#: The label's window: churned within 30 days of the snapshot.
HORIZON = timedelta(days=30)
#: How far back usage, payments and plan changes are read.
LOOKBACK = timedelta(days=90)
#: The built-in features, in the model's column order (host signals follow).
BUILT_IN = ("usage_trend", "days_since_usage", "features_used", "failed_payments", "days_past_due",
            "downgrades", "tenure_days", "mrr", "seats")
_DAY = 86400.0

#: A host signal: ``fn(owner_ids, at)`` -> {owner_id: number}, known at ``at``; missing owners count as 0.
Signal = Callable[[Sequence[str], datetime], Mapping[str, float]]


@dataclass
class Snapshot:
    """Feature rows of the paying customers at ``at``; ``labels`` is None when the future is not known yet."""

    at: datetime
    names: list[str]
    owners: list[str]
    rows: list[list[float]]
    labels: list[int] | None = None


@dataclass
class _Owner:
    times: list[datetime] = field(default_factory=list)     # change points, ascending
    mrr: list[float] = field(default_factory=list)          # the owner's MRR from each change point on
    seats: list[int] = field(default_factory=list)

    def at(self, when: datetime) -> tuple[float, int]:
        i = bisect.bisect_right(self.times, when) - 1
        return (0.0, 0) if i < 0 else (self.mrr[i], self.seats[i])


@dataclass
class History:
    """Each owner's MRR and seats over time, built from the subscription ledger up to ``until``."""

    owners: dict[str, _Owner]

    def paying(self, at: datetime) -> list[str]:
        return sorted(o for o, h in self.owners.items() if h.at(at)[0] > 0)

    def churned(self, owner: str, at: datetime, horizon: timedelta = HORIZON) -> bool:
        h = self.owners[owner]
        lo, hi = bisect.bisect_right(h.times, at), bisect.bisect_right(h.times, at + horizon)
        return any(h.mrr[i] <= 0 for i in range(lo, hi))

    def downgrades(self, owner: str, at: datetime) -> int:
        h = self.owners[owner]
        lo, hi = bisect.bisect_left(h.times, at - LOOKBACK), bisect.bisect_right(h.times, at)
        return sum(1 for i in range(max(lo, 1), hi) if 0 < h.mrr[i] < h.mrr[i - 1])

    def tenure_days(self, owner: str, at: datetime) -> float:
        h = self.owners[owner]
        first = next((t for t, m in zip(h.times, h.mrr, strict=True) if m > 0 and t <= at), at)
        return (at - first).total_seconds() / _DAY


class Extractor:
    """Reads the feature rows of many customers at once: a handful of set-based queries per snapshot."""

    def __init__(self, session: Session, *, signals: Mapping[str, Signal] | None = None) -> None:
        self._s = session
        self._signals = dict(signals or {})

    @property
    def names(self) -> list[str]:
        return [*BUILT_IN, *sorted(self._signals)]

    # --- the ledger --------------------------------------------------------------------------------
    def history(self, until: datetime) -> History:
        """Every owner's MRR and seats after each change of any of its subscriptions, up to ``until``."""
        e = BillingLedgerEntry
        # the seat count only, read in SQL: decoding every row's JSON detail cost more than the rest together
        quantity = e.detail["quantity"].as_float()
        stmt = (select(e.owner_id, e.subscription_stripe_id, e.effective_at, e.mrr_after, quantity)
                .where(e.owner_id.is_not(None), e.effective_at <= until)
                .order_by(e.owner_id, e.effective_at, e.rank, e.id))
        owners: dict[str, _Owner] = {}
        subs: dict[str, dict[str, tuple[float, int]]] = {}
        for owner, sub, at, mrr_after, qty in self._s.execute(stmt):
            mine = subs.setdefault(owner, {})
            paying = mrr_after > 0
            mine[sub] = (float(mrr_after), int(qty or 0) if paying else 0)
            h = owners.setdefault(owner, _Owner())
            if len(mine) == 1:
                mrr, seats = mine[sub]
            else:
                mrr, seats = sum(v[0] for v in mine.values()), sum(v[1] for v in mine.values())
            if h.times and h.times[-1] == at:
                h.mrr[-1], h.seats[-1] = mrr, seats
            else:
                h.times.append(at)
                h.mrr.append(mrr)
                h.seats.append(seats)
        return History(owners)

    # --- one snapshot ------------------------------------------------------------------------------
    def snapshot(self, history: History, at: datetime, *, labelled: bool,
                 owners: Sequence[str] | None = None) -> Snapshot:
        """Rows for ``owners`` (default: every customer paying at ``at``)."""
        who = list(owners) if owners is not None else history.paying(at)
        usage = self._usage(at)
        invoices = self._invoices(at)
        hosts = {name: fn(who, at) for name, fn in sorted(self._signals.items())}
        rows = []
        for owner in who:
            mrr, seats = history.owners[owner].at(at) if owner in history.owners else (0.0, 0)
            u7, u30, meters, last = usage.get(owner, (0.0, 0.0, 0, None))
            trend = (u7 / 7.0) / (u30 / 30.0) if u30 > 0 else (1.0 if u7 <= 0 else 2.0)
            since = (at - last).total_seconds() / _DAY if last is not None else LOOKBACK.days
            failed, past_due = invoices.get(owner, (0, 0.0))
            row = [trend, since, float(meters), float(failed), past_due,
                   float(history.downgrades(owner, at)) if owner in history.owners else 0.0,
                   history.tenure_days(owner, at) if owner in history.owners else 0.0, mrr / 100.0, float(seats)]
            row += [_number(values.get(owner, 0.0)) for values in hosts.values()]
            rows.append(row)
        labels = [int(history.churned(o, at)) for o in who] if labelled else None
        return Snapshot(at, self.names, who, rows, labels)

    def _usage(self, at: datetime) -> dict[str, tuple[float, float, int, datetime | None]]:
        e = BillingUsageEvent
        d7, d30 = at - timedelta(days=7), at - timedelta(days=30)
        stmt = (select(e.owner_id,
                       func.sum(case((e.timestamp >= d7, e.value), else_=0)),
                       func.sum(case((e.timestamp >= d30, e.value), else_=0)),
                       func.count(func.distinct(case((e.timestamp >= d30, e.meter), else_=None))),
                       func.max(e.timestamp))
                .where(e.timestamp >= at - LOOKBACK, e.timestamp < at).group_by(e.owner_id))
        out = {}
        for owner, u7, u30, meters, last in self._s.execute(stmt):
            out[owner] = (float(u7 or 0), float(u30 or 0), int(meters or 0), _aware(last))
        return out

    def _invoices(self, at: datetime) -> dict[str, tuple[int, float]]:
        """Failed payments and days past due per owner, aggregated in SQL (one row per owner, not per invoice)."""
        i = BillingInvoice
        day = timedelta(days=1)
        if self._s.get_bind().dialect.name == "sqlite":    # stored as text: compare in days
            late = func.julianday(i.paid_at) > func.julianday(i.stripe_created) + 1
        else:
            late = i.paid_at > i.stripe_created + literal_column("interval '1 day'")
        failed = and_(i.stripe_created < at - day, or_(i.paid_at.is_(None), late))
        unpaid = and_(i.status != "void", or_(i.paid_at.is_(None), i.paid_at > at))
        stmt = (select(i.owner_id, func.sum(case((failed, 1), else_=0)),
                       func.min(case((unpaid, i.stripe_created), else_=None)))
                .where(i.owner_id.is_not(None), i.stripe_created >= at - LOOKBACK, i.stripe_created < at,
                       i.amount_due > 0, i.status.not_in(("draft",)))
                .group_by(i.owner_id))
        out: dict[str, tuple[int, float]] = {}
        for owner, n_failed, oldest in self._s.execute(stmt):
            oldest = _aware(oldest)
            past_due = max(0.0, (at - oldest).total_seconds() / _DAY) if oldest is not None else 0.0
            out[owner] = (int(n_failed or 0), past_due)
        return out


def _aware(value: Any) -> datetime | None:
    """An aggregate's datetime as aware UTC (SQLite's MIN()/MAX() return the stored text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value in (
            float("inf"), float("-inf")):
        raise TypeError(f"a host signal must return finite numbers, got {value!r}")
    return float(value)
