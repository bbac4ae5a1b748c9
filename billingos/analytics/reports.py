"""Turning the SQL aggregates into reports in the reporting currency (loops here run over intervals,
cohorts and currencies, never over customers)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy.orm import Session

from ..money import Money
from . import queries
from .fx import Rates
from .schemas import Cohort, Movement, ratio, round_half_even
from .settings import AnalyticsSettings

__all__ = ["average", "cohorts", "ltv", "movements", "rate_day"]

_TICK = timedelta(microseconds=1)


def rate_day(boundary: datetime) -> datetime:
    """The instant whose date picks the rate for an MRR "at a boundary" (the last moment before it)."""
    return boundary - _TICK


def movements(session: Session, bounds: Sequence[datetime], settings: AnalyticsSettings,
              currency: str) -> list[Movement]:
    rows = queries.movement_rows(session, bounds, gross=settings.same_interval_signup_churn == "gross")
    level, customers = queries.start_levels(session, bounds[0])
    rates = Rates(session, currency, set(level) | {r.currency for r in rows})
    by_k: dict[int, list[queries.MovementRow]] = defaultdict(list)
    for r in rows:
        by_k[r.k].append(r)
    out = []
    for k, (a, b) in enumerate(pairwise(bounds)):
        rs, start_day, end_day = by_k.get(k, []), rate_day(a).date(), rate_day(b).date()
        mrr_start = rates.convert(level, start_day)
        for r in rs:
            level[r.currency] = level.get(r.currency, 0) + r.net

        def total(field: str, rs: list[queries.MovementRow] = rs, day: object = end_day) -> int:
            sums: dict[str, int] = defaultdict(int)
            for r in rs:
                sums[r.currency] += getattr(r, field)
            return rates.convert(sums, day)   # type: ignore[arg-type]

        mrr_end = rates.convert(level, end_day)
        new, expansion, contraction, churn, reactivation = (
            total(f) for f in ("new", "expansion", "contraction", "churn", "reactivation"))
        fx = mrr_end - mrr_start - (new + expansion + reactivation - contraction - churn)
        joined = sum(r.new_customers + r.reactivated_customers for r in rs)
        left = sum(r.churned_customers for r in rs)
        def m(x: int) -> Money:
            return Money(x, currency)

        out.append(Movement(a, b, m(mrr_start), m(mrr_end), m(new), m(expansion), m(contraction), m(churn),
                            m(reactivation), m(fx), customers, customers + joined - left,
                            sum(r.new_customers for r in rs), sum(r.reactivated_customers for r in rs), left))
        customers += joined - left
    return out


def cohorts(session: Session, bounds: Sequence[datetime], currency: str) -> list[Cohort]:
    """Monthly cohorts over ``bounds`` (month boundaries); a month without changes carries the last values."""
    cells = queries.cohort_cells(session, bounds)
    rates = Rates(session, currency, {c.currency for c in cells})
    n = len(bounds) - 1
    grid: dict[int, dict[int, dict[str, tuple[int, int, int]]]] = defaultdict(lambda: defaultdict(dict))
    for c in cells:
        grid[c.cohort][c.k][c.currency] = (c.mrr, c.retained, c.customers)
    out = []
    for k0 in sorted(grid):
        day = rate_day(bounds[k0 + 1]).date()       # one rate per cohort: retention without FX
        last: dict[str, tuple[int, int, int]] = {}
        mrr, kept, paying = [], [], []
        for k in range(k0, n):
            last = {**last, **grid[k0].get(k, {})}
            mrr.append(rates.convert({cur: v[0] for cur, v in last.items()}, day))
            kept.append(rates.convert({cur: v[1] for cur, v in last.items()}, day))
            paying.append(sum(v[2] for v in last.values()))
        base = mrr[0]
        out.append(Cohort(bounds[k0], paying[0], Money(base, currency), tuple(ratio(v, base) for v in mrr),
                          tuple(ratio(v, base) for v in kept), tuple(paying)))
    return out


def average(values: Sequence[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    if not known:
        return None
    return sum(known, Decimal(0)) / len(known)


def ltv(arpa: Money | None, months: Sequence[Movement]) -> Money | None:
    """ARPA ÷ the average customer churn rate of ``months`` (whole calendar months; those without paying
    customers at their start left out). None when undefined: no ARPA, or no churn (never infinity)."""
    churn = average([m.customer_churn_rate for m in months])
    if arpa is None or churn is None or churn == 0:
        return None
    return Money(round_half_even(Decimal(arpa.amount) / churn), arpa.currency)

