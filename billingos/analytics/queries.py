"""The SQL behind ``billing.analytics``: every figure is an aggregate over the ledger in the database (no
loop over customers in Python). Works on SQLite (3.25+, window functions) and PostgreSQL.

An interval is ``[s, e)``. The MRR "at a boundary" of intervals counts the rows before it; ``mrr(at=t)``
counts the rows at or before ``t``. A customer's MRR is the sum of ``mrr_after - mrr_before`` over its rows
(every currency kept apart until the host's rates convert the per-currency totals)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from ..db import UTCDateTime
from ..invoices.models import BillingInvoice
from ..subscriptions.models import BillingSubscription
from .models import BillingLedgerEntry as L

__all__ = ["CohortCell", "MovementRow", "cohort_cells", "movement_rows", "start_levels"]

DELTA = L.mrr_after - L.mrr_before


@dataclass(frozen=True)
class MovementRow:
    """One interval's movements in one currency (minor units), and its customer counts."""

    k: int
    currency: str
    net: int = 0
    new: int = 0
    expansion: int = 0
    contraction: int = 0
    churn: int = 0
    reactivation: int = 0
    new_customers: int = 0
    reactivated_customers: int = 0
    churned_customers: int = 0


@dataclass(frozen=True)
class CohortCell:
    cohort: int          # index of the month the customers first paid
    k: int               # index of the month measured
    currency: str
    mrr: int             # the cohort's MRR at the end of month k (NRR's numerator)
    retained: int        # the same, each customer capped at its first month's MRR (GRR's numerator)
    customers: int       # of the cohort, paying at the end of month k


def _buckets(bounds: Sequence[datetime]) -> Any:
    parts = [select(literal(i, Integer).label("k"), literal(a, UTCDateTime()).label("s"),
                    literal(b, UTCDateTime()).label("e")) for i, (a, b) in enumerate(pairwise(bounds))]
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("b")


def mrr_by_currency(session: Session, at: datetime) -> dict[str, int]:
    rows = session.execute(select(L.currency, func.sum(DELTA)).where(L.effective_at <= at).group_by(L.currency))
    return {cur: int(total or 0) for cur, total in rows}


def _customer_levels(at: datetime, *, inclusive: bool) -> Any:
    cond = L.effective_at <= at if inclusive else L.effective_at < at
    return (select(L.customer_stripe_id.label("c"), L.currency.label("cur"), func.sum(DELTA).label("lvl"))
            .where(cond).group_by(L.customer_stripe_id, L.currency))


def paying_customers(session: Session, at: datetime, *, inclusive: bool = True) -> int:
    levels = _customer_levels(at, inclusive=inclusive).subquery()
    return int(session.scalar(select(func.count()).select_from(levels).where(levels.c.lvl > 0)) or 0)


def start_levels(session: Session, at: datetime) -> tuple[dict[str, int], int]:
    """Per-currency MRR and the number of paying customers just before ``at``."""
    levels = _customer_levels(at, inclusive=False).subquery()
    rows = session.execute(select(levels.c.cur, func.sum(levels.c.lvl), func.count())
                           .where(levels.c.lvl > 0).group_by(levels.c.cur)).all()
    return {cur: int(total) for cur, total, _ in rows}, sum(int(n) for *_, n in rows)


def top_customers(session: Session, at: datetime, limit: int) -> list[tuple[str, str | None, str, int]]:
    """(customer, owner, currency, MRR) of the biggest payers at ``at``, biggest first (ties by id)."""
    owner = func.max(L.owner_id)
    q = (select(L.customer_stripe_id, owner, L.currency, func.sum(DELTA).label("lvl"))
         .where(L.effective_at <= at).group_by(L.customer_stripe_id, L.currency)
         .having(func.sum(DELTA) > 0).order_by(func.sum(DELTA).desc(), L.customer_stripe_id).limit(limit))
    return [(c, o, cur, int(v)) for c, o, cur, v in session.execute(q)]


def _levels_per_bucket(bounds: Sequence[datetime]) -> tuple[Any, Any]:
    """Per (customer, currency, interval with rows): the change ``d`` and the level ``e`` at its end."""
    b = _buckets(bounds)
    per = (select(L.customer_stripe_id.label("c"), L.currency.label("cur"), b.c.k, func.sum(DELTA).label("d"))
           .select_from(L).join(b, and_(L.effective_at >= b.c.s, L.effective_at < b.c.e))
           .group_by(L.customer_stripe_id, L.currency, b.c.k).subquery("per"))
    start = _customer_levels(bounds[0], inclusive=False).subquery("start")
    running = func.sum(per.c.d).over(partition_by=(per.c.c, per.c.cur), order_by=per.c.k)
    lv = (select(per.c.c, per.c.cur, per.c.k, per.c.d,
                 (func.coalesce(start.c.lvl, 0) + running).label("e"))
          .select_from(per.outerjoin(start, and_(start.c.c == per.c.c, start.c.cur == per.c.cur)))
          .subquery("lv"))
    return b, lv


def _first_paid() -> Any:
    """When each customer first had MRR (any row leaving one of its subscriptions above 0)."""
    return (select(L.customer_stripe_id.label("c"), func.min(L.effective_at).label("fp"))
            .where(L.mrr_after > 0).group_by(L.customer_stripe_id).subquery("first"))


def movement_rows(session: Session, bounds: Sequence[datetime], *, gross: bool) -> list[MovementRow]:
    """Each customer's change over each interval, classified (new, expansion, ...) and summed per currency."""
    b, lv = _levels_per_bucket(bounds)
    first = _first_paid()
    s0, e = lv.c.e - lv.c.d, lv.c.e
    starts = select(lv.c.k, lv.c.cur, lv.c.d, s0.label("s0"), e.label("e"), first.c.fp, b.c.s.label("bs")) \
        .select_from(lv.join(b, b.c.k == lv.c.k).outerjoin(first, first.c.c == lv.c.c)).subquery("m")
    m = starts.c
    fresh = and_(m.s0 == 0, m.e > 0)
    returning = and_(fresh, m.fp < m.bs)

    def total(cond: Any, value: Any) -> Any:
        return func.coalesce(func.sum(case((cond, value), else_=0)), 0)

    def count(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    q = select(m.k, m.cur, func.sum(m.d), total(and_(fresh, ~returning), m.e),
               total(and_(m.s0 > 0, m.e > m.s0), m.e - m.s0), total(and_(m.s0 > m.e, m.e > 0), m.s0 - m.e),
               total(and_(m.s0 > 0, m.e == 0), m.s0), total(returning, m.e), count(and_(fresh, ~returning)),
               count(returning), count(and_(m.s0 > 0, m.e == 0))).group_by(m.k, m.cur)
    rows = {(k, cur): MovementRow(k, cur, *(int(x or 0) for x in rest)) for k, cur, *rest in session.execute(q)}
    if gross:
        for (k, cur), (peak, returned, n_new, n_back) in _brief_customers(session, bounds).items():
            r = rows.get((k, cur)) or MovementRow(k, cur)
            rows[(k, cur)] = MovementRow(k, cur, r.net, r.new + peak - returned, r.expansion, r.contraction,
                                         r.churn + peak, r.reactivation + returned, r.new_customers + n_new,
                                         r.reactivated_customers + n_back, r.churned_customers + n_new + n_back)
    return sorted(rows.values(), key=lambda r: (r.k, r.currency))


def _brief_customers(session: Session, bounds: Sequence[datetime]) -> dict[tuple[int, str], tuple[int, ...]]:
    """Customers at 0 at both ends of an interval who paid inside it: (peak MRR, of it returning customers',
    new customers, returning customers) per interval and currency, for ``same_interval_signup_churn="gross"``."""
    b = _buckets(bounds)
    start = _customer_levels(bounds[0], inclusive=False).subquery("start")
    running = func.sum(DELTA).over(partition_by=(L.customer_stripe_id, L.currency), order_by=L.effective_at)
    rows = (select(L.customer_stripe_id.label("c"), L.currency.label("cur"), L.effective_at.label("at"),
                   running.label("r")).where(L.effective_at >= bounds[0], L.effective_at < bounds[-1])
            .subquery("rows"))
    lvl = (select(rows.c.c, rows.c.cur, b.c.k, b.c.s.label("bs"),
                  func.max(func.coalesce(start.c.lvl, 0) + rows.c.r).label("peak"))
           .select_from(rows.join(b, and_(rows.c.at >= b.c.s, rows.c.at < b.c.e))
                        .outerjoin(start, and_(start.c.c == rows.c.c, start.c.cur == rows.c.cur)))
           .group_by(rows.c.c, rows.c.cur, b.c.k, b.c.s).subquery("lvl"))
    _, lv = _levels_per_bucket(bounds)
    first = (select(L.customer_stripe_id.label("c"), func.min(L.effective_at).label("fp"))
             .where(L.mrr_after > 0).group_by(L.customer_stripe_id).subquery("first"))
    back = first.c.fp < lvl.c.bs
    q = (select(lvl.c.k, lvl.c.cur, func.sum(lvl.c.peak), func.sum(case((back, lvl.c.peak), else_=0)),
                func.sum(case((back, 0), else_=1)), func.sum(case((back, 1), else_=0)))
         .select_from(lvl.join(lv, and_(lv.c.c == lvl.c.c, lv.c.cur == lvl.c.cur, lv.c.k == lvl.c.k))
                      .outerjoin(first, first.c.c == lvl.c.c))
         .where(lvl.c.peak > 0, lv.c.e == 0, lv.c.e - lv.c.d == 0)
         .group_by(lvl.c.k, lvl.c.cur))
    return {(k, cur): tuple(int(x or 0) for x in rest) for k, cur, *rest in session.execute(q)}


def cohort_cells(session: Session, bounds: Sequence[datetime]) -> list[CohortCell]:
    """For customers who first paid inside the range: their MRR per (cohort month, month) with each
    customer's level carried over months without rows (a range-add turned into a running sum)."""
    b, lv = _levels_per_bucket(bounds)
    first = _first_paid()
    cohort = (select(first.c.c, b.c.k.label("k0")).select_from(first.join(b, and_(first.c.fp >= b.c.s,
                                                                                  first.c.fp < b.c.e)))
              .subquery("cohort"))
    n = len(bounds) - 1
    nxt = func.lead(lv.c.k, 1, n).over(partition_by=(lv.c.c, lv.c.cur), order_by=lv.c.k)
    base = func.max(case((lv.c.k == cohort.c.k0, lv.c.e), else_=None)).over(partition_by=(lv.c.c, lv.c.cur))
    spans = (select(cohort.c.k0, lv.c.cur, lv.c.k, nxt.label("k1"), lv.c.e, base.label("l0"))
             .select_from(lv.join(cohort, cohort.c.c == lv.c.c)).cte("spans"))   # read twice: computed once
    capped = case((spans.c.e < spans.c.l0, spans.c.e), else_=spans.c.l0)
    paying = case((spans.c.e > 0, 1), else_=0)
    adds = select(spans.c.k0, spans.c.cur, spans.c.k.label("k"), spans.c.e.label("v"), capped.label("g"),
                  paying.label("p")).where(spans.c.k >= spans.c.k0)
    subs = select(spans.c.k0, spans.c.cur, spans.c.k1, -spans.c.e, -capped, -paying) \
        .where(spans.c.k >= spans.c.k0, spans.c.k1 < n)
    steps = union_all(adds, subs).subquery("steps")
    per = (select(steps.c.k0, steps.c.cur, steps.c.k, func.sum(steps.c.v).label("v"), func.sum(steps.c.g).label("g"),
                  func.sum(steps.c.p).label("p")).group_by(steps.c.k0, steps.c.cur, steps.c.k).subquery("per"))
    part = (per.c.k0, per.c.cur)
    q = select(per.c.k0, per.c.k, per.c.cur, *(func.sum(x).over(partition_by=part, order_by=per.c.k)
                                               for x in (per.c.v, per.c.g, per.c.p))) \
        .order_by(per.c.k0, per.c.k, per.c.cur)
    return [CohortCell(int(k0), int(k), cur, int(v), int(g), int(p)) for k0, k, cur, v, g, p in session.execute(q)]


def trial_outcomes(session: Session, start: datetime, end: datetime) -> tuple[int, int]:
    """(trials that ended in the range, of them converted to paying)."""
    ended = and_(L.status_before == "trialing", L.status_after != "trialing", L.source != "correction",
                 L.effective_at >= start, L.effective_at < end)
    converted = case((L.status_after.in_(("active", "past_due")), 1), else_=0)
    row = session.execute(select(func.count(), func.coalesce(func.sum(converted), 0)).where(ended)).one()
    return int(row[0]), int(row[1])


def failed_invoice_volume(session: Session, start: datetime, end: datetime,
                          closed_before: datetime) -> dict[str, tuple[int, int]]:
    """Per currency (failed volume, recovered volume) of invoices created in the range whose dunning
    window closed (created before ``closed_before``), leaving out the first invoice after a trial."""
    inv, sub = BillingInvoice, BillingSubscription
    failed = case((inv.status == "paid", inv.attempt_count > 1), else_=inv.attempt_count >= 1)
    after_trial = and_(sub.trial_end.is_not(None), inv.period_end == sub.trial_end,
                       inv.billing_reason == "subscription_cycle")
    q = (select(inv.currency, func.sum(inv.amount_due),
                func.sum(case((inv.status == "paid", inv.amount_due), else_=0)))
         .select_from(inv.__table__.outerjoin(sub.__table__, sub.stripe_id == inv.subscription_stripe_id))
         .where(inv.stripe_created >= start, inv.stripe_created < end, inv.stripe_created < closed_before,
                inv.amount_due > 0, failed, ~func.coalesce(after_trial, False))
         .group_by(inv.currency))
    return {cur: (int(f or 0), int(r or 0)) for cur, f, r in session.execute(q)}
