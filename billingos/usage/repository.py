"""SQL for usage: billing periods, keys and events one at a time, the summary upsert and recomputation.
Bulk loads are in ``bulk``."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..catalog.models import BillingPrice
from ..db import in_many
from ..subscriptions.models import BillingSubscription, BillingSubscriptionItem
from .models import BillingUsageEvent, BillingUsageKey, BillingUsageSummary, BillingUsageThreshold
from .schemas import MeterDef, UsageEvent

LIVE = ("active", "trialing", "past_due")
Period = tuple[datetime, datetime]
_EVENTS: Table = BillingUsageEvent.__table__  # type: ignore[assignment]
_KEYS: Table = BillingUsageKey.__table__  # type: ignore[assignment]
_SUMMARIES: Table = BillingUsageSummary.__table__  # type: ignore[assignment]
_THRESHOLDS: Table = BillingUsageThreshold.__table__  # type: ignore[assignment]


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


class _Statements:
    """The per-event statements, built once per dialect with bind parameters: building a SQLAlchemy
    statement and its cache key costs more Python than the database spends running it."""

    def __init__(self, insert: Any) -> None:
        t, s, i, p = _SUMMARIES.c, BillingSubscription, BillingSubscriptionItem, BillingPrice
        self.key = (insert(_KEYS).on_conflict_do_nothing(index_elements=["idempotency_key"])
                    .returning(_KEYS.c.idempotency_key))
        self.event = _EVENTS.insert()
        up = insert(_SUMMARIES)
        x = up.excluded
        newer = t.last_at.is_(None) | (x.last_at >= t.last_at)
        value = case((t.aggregation == "max", case((x.value > t.value, x.value), else_=t.value)),
                     (t.aggregation == "last", case((newer, x.value), else_=t.value)), else_=t.value + x.value)
        #: What one write adds to its period: the aggregation decides how ``value`` grows.
        self.fold = up.on_conflict_do_update(
            index_elements=["owner_id", "meter", "period_start"],
            set_={"value": value, "events": t.events + x.events, "version": t.version + 1,
                  "last_at": case((newer, x.last_at), else_=t.last_at), "updated_at": x.updated_at})
        self.fold_returning = self.fold.returning(t.id, t.value, t.version)
        lock = insert(_SUMMARIES)
        self.lock = lock.on_conflict_do_update(index_elements=["owner_id", "meter", "period_start"],
                                               set_={"updated_at": lock.excluded.updated_at})
        self.subscriptions = (
            select(s.current_period_start, s.current_period_end, p.interval, p.interval_count)
            .select_from(s).outerjoin(i, i.subscription_id == s.id).outerjoin(p, p.stripe_id == i.price_stripe_id)
            .where(s.owner_id == bindparam("owner"), s.status.in_(LIVE), s.current_period_start.is_not(None)))
        self.threshold = (insert(_THRESHOLDS).on_conflict_do_nothing(
            index_elements=["owner_id", "meter", "period_start", "threshold"]).returning(_THRESHOLDS.c.id))
        self.known = (select(t.period_start, t.period_end)
                      .where(t.owner_id == bindparam("owner"), t.meter == bindparam("meter"),
                             t.period_start <= bindparam("ts"), t.period_end > bindparam("ts")).limit(1))


_SQL = {"postgresql": _Statements(postgresql.insert), "sqlite": _Statements(sqlite.insert)}


def statements(session: Session) -> _Statements:
    return _SQL["postgresql" if dialect(session) == "postgresql" else "sqlite"]


# --- periods ----------------------------------------------------------------------------------------
def month_of(ts: datetime) -> Period:
    start = ts.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, add_interval(start, "month", 1, 1)


def add_interval(dt: datetime, interval: str | None, count: int, anchor_day: int) -> datetime:
    count = max(1, count or 1)
    if interval == "day":
        return dt + timedelta(days=count)
    if interval == "week":
        return dt + timedelta(weeks=count)
    months = count * (12 if interval == "year" else 1)
    y, m = divmod(dt.month - 1 + months, 12)
    year, month = dt.year + y, m + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return dt.replace(year=year, month=month, day=day)


def subscription_periods(session: Session, owner_ids: Iterable[str]) -> dict[str, list[tuple[Period, str, int]]]:
    """The live subscriptions' current periods per owner, with their price interval (to roll forward)."""
    out: dict[str, list[tuple[Period, str, int]]] = {}
    s, i, p = BillingSubscription, BillingSubscriptionItem, BillingPrice
    for owned in in_many(session, s.owner_id, owner_ids):
        stmt = (select(s.owner_id, s.current_period_start, s.current_period_end, p.interval, p.interval_count)
                .select_from(s).outerjoin(i, i.subscription_id == s.id)
                .outerjoin(p, p.stripe_id == i.price_stripe_id)
                .where(owned, s.status.in_(LIVE), s.current_period_start.is_not(None)))
        for owner, start, end, interval, count in session.execute(stmt):
            if owner is None or start is None or end is None:
                continue
            entry = ((start, end), interval or "month", count or 1)
            if entry not in out.setdefault(owner, []):
                out[owner].append(entry)
    return out


def summary_periods(session: Session, pairs: Iterable[tuple[str, str]],
                    since: datetime) -> dict[tuple[str, str], list[Period]]:
    """Existing summary periods per (owner, meter) that end after ``since`` (late events land there)."""
    out: dict[tuple[str, str], list[Period]] = {}
    wanted = set(pairs)
    t = BillingUsageSummary
    for owned in in_many(session, t.owner_id, {o for o, _ in wanted}):
        stmt = select(t.owner_id, t.meter, t.period_start, t.period_end).where(owned, t.period_end > since)
        for owner, meter, start, end in session.execute(stmt):
            if (owner, meter) in wanted:
                out.setdefault((owner, meter), []).append((start, end))
    return out


def pick_period(ts: datetime, subs: list[tuple[Period, str, int]], known: list[Period]) -> Period:
    """The period ``ts`` falls in: a live subscription's (rolled forward if a renewal is not synced yet),
    else a period already summarised, else the calendar month (UTC)."""
    for (start, end), interval, count in subs:
        if start <= ts < end:
            return start, end
        if ts >= end:
            anchor = start.day
            for _ in range(48):
                start, end = end, add_interval(end, interval, count, anchor)
                if start <= ts < end:
                    return start, end
    for start, end in known:
        if start <= ts < end:
            return start, end
    return month_of(ts)


def period_for(session: Session, owner_id: str, meter: str, ts: datetime) -> Period:
    q = statements(session)
    subs = [((a, b), interval or "month", count or 1) for a, b, interval, count in
            session.execute(q.subscriptions, {"owner": owner_id}) if a is not None and b is not None]
    known = [(a, b) for a, b in session.execute(q.known, {"owner": owner_id, "meter": meter, "ts": ts})]
    return pick_period(ts, subs, known)


# --- keys and events ----------------------------------------------------------------------------------
def insert_key(session: Session, key: str, ts: datetime) -> bool:
    return session.execute(statements(session).key, {"idempotency_key": key, "timestamp": ts}).first() is not None


def insert_event(session: Session, ev: UsageEvent, *, now: datetime, adjusts: str | None = None) -> None:
    session.execute(statements(session).event, {
        "owner_id": ev.owner_id, "meter": ev.meter, "timestamp": ev.timestamp, "idempotency_key": ev.idempotency_key,
        "value": ev.value, "adjusts": adjusts, "unique_key": ev.unique_key, "properties": ev.properties,
        "received_at": now})


def unique_seen(session: Session, ev: UsageEvent, period: Period) -> bool:
    """Whether a live (not cancelled) event with this ``unique_key`` is already in the period."""
    e = BillingUsageEvent
    rows = session.execute(select(e.idempotency_key, e.adjusts).where(
        e.owner_id == ev.owner_id, e.meter == ev.meter, e.timestamp >= period[0], e.timestamp < period[1],
        e.unique_key == ev.unique_key)).all()
    cancelled = {adj for _, adj in rows if adj is not None}
    return any(adj is None and key not in cancelled for key, adj in rows)


# --- summaries ----------------------------------------------------------------------------------------
def summary_row(*, owner_id: str, meter: MeterDef, period: Period, value: int, events: int,
                last_at: datetime | None, now: datetime, version: int = 1) -> dict[str, Any]:
    return {"owner_id": owner_id, "meter": meter.event_name, "period_start": period[0], "period_end": period[1],
            "aggregation": meter.aggregation, "value": value, "events": events, "last_at": last_at,
            "version": version, "staged_version": 0, "staged_value": 0, "updated_at": now}


def bump_summary(session: Session, *, owner_id: str, meter: MeterDef, period: Period, value: int, events: int,
                 last_at: datetime, now: datetime) -> tuple[int, int, int]:
    """Fold ``value`` into the period's summary in one upsert. Returns (id, value, version).

    ``value`` is what the aggregation adds: the sum (sum), the count (count), a maximum (max), the newest
    value (last, newest by ``last_at``) or new unique keys (unique_count)."""
    row = session.execute(statements(session).fold_returning, summary_row(
        owner_id=owner_id, meter=meter, period=period, value=value, events=events, last_at=last_at, now=now)).one()
    return int(row[0]), int(row[1]), int(row[2])


def lock_summary(session: Session, *, owner_id: str, meter: MeterDef, period: Period, now: datetime) -> None:
    """Make sure the period's summary exists and hold its row lock (unique_count and corrections)."""
    row = summary_row(owner_id=owner_id, meter=meter, period=period, value=0, events=0, last_at=None, now=now,
                      version=0)
    session.execute(statements(session).lock, row)


def announce_threshold(session: Session, *, owner_id: str, meter: str, period: Period, threshold: int, limit: int,
                       used: int, now: datetime) -> bool:
    """Record that ``threshold`` % was reached in the period; False when it already was (announce once)."""
    return session.execute(statements(session).threshold, {
        "owner_id": owner_id, "meter": meter, "period_start": period[0], "threshold": threshold,
        "limit_value": limit, "used": used, "reached_at": now}).first() is not None


def recompute(session: Session, *, owner_id: str, meter: MeterDef, period: Period) -> tuple[int, int, datetime | None]:
    """The period's aggregate from its events (corrections applied): (value, events, last_at)."""
    e = BillingUsageEvent
    rows = session.execute(select(e.idempotency_key, e.adjusts, e.value, e.timestamp, e.received_at, e.unique_key)
                           .where(e.owner_id == owner_id, e.meter == meter.event_name,
                                  e.timestamp >= period[0], e.timestamp < period[1])).all()
    adjustments: dict[str, int] = {}
    for _key, adj, value, *_ in rows:
        if adj is not None:
            adjustments[adj] = adjustments.get(adj, 0) + int(value)
    originals = [r for r in rows if r[1] is None]
    agg = meter.aggregation
    if agg == "sum":   # corrections are partial: an event counts while anything of it is left
        live = [r for r in originals if int(r[2]) + adjustments.get(r[0], 0) > 0 or r[0] not in adjustments]
    else:              # corrections cancel the whole event
        live = [r for r in originals if r[0] not in adjustments]
    last_at = max((r[3] for r in live), default=None)
    if agg == "sum":
        value = sum(int(r[2]) for r in originals) + sum(adjustments.values())
    elif agg == "count":
        value = len(live)
    elif agg == "max":
        value = max((int(r[2]) for r in live), default=0)
    elif agg == "last":
        newest = max(live, key=lambda r: (r[3], r[4]), default=None)
        value = int(newest[2]) if newest is not None else 0
    else:
        value = len({r[5] for r in live})
    return value, len(live), last_at


def set_summary(session: Session, *, owner_id: str, meter: MeterDef, period: Period, value: int, events: int,
                last_at: datetime | None, now: datetime) -> tuple[int, int, int]:
    t = BillingUsageSummary
    row = session.execute(
        _SUMMARIES.update().where(t.owner_id == owner_id, t.meter == meter.event_name, t.period_start == period[0])
        .values(value=value, events=events, last_at=last_at, version=t.version + 1, updated_at=now)
        .returning(t.id, t.value, t.version)).one()
    return int(row[0]), int(row[1]), int(row[2])


def summary_value(session: Session, owner_id: str, meter: str, period: Period) -> int:
    t = BillingUsageSummary
    found = session.execute(select(t.value).where(t.owner_id == owner_id, t.meter == meter,
                                                  t.period_start == period[0])).scalar()
    return int(found or 0)
