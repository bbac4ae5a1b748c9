"""SQL for usage: billing periods, the summary upsert, recomputation, and the bulk load paths."""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, case, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..catalog.models import BillingPrice
from ..subscriptions.models import BillingSubscription, BillingSubscriptionItem
from .models import BillingUsageEvent, BillingUsageKey, BillingUsageSummary
from .schemas import MeterDef, UsageEvent

LIVE = ("active", "trialing", "past_due")
Period = tuple[datetime, datetime]
_EVENTS: Table = BillingUsageEvent.__table__  # type: ignore[assignment]
_KEYS: Table = BillingUsageKey.__table__  # type: ignore[assignment]
_SUMMARIES: Table = BillingUsageSummary.__table__  # type: ignore[assignment]


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session) -> Any:
    return postgresql.insert if dialect(session) == "postgresql" else sqlite.insert


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
    owners = list(set(owner_ids))
    out: dict[str, list[tuple[Period, str, int]]] = {}
    if not owners:
        return out
    s, i, p = BillingSubscription, BillingSubscriptionItem, BillingPrice
    stmt = (select(s.owner_id, s.current_period_start, s.current_period_end, p.interval, p.interval_count)
            .select_from(s).outerjoin(i, i.subscription_id == s.id).outerjoin(p, p.stripe_id == i.price_stripe_id)
            .where(s.owner_id.in_(owners), s.status.in_(LIVE), s.current_period_start.is_not(None)))
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
    owners = {o for o, _ in wanted}
    if not owners:
        return out
    t = BillingUsageSummary
    stmt = select(t.owner_id, t.meter, t.period_start, t.period_end).where(t.owner_id.in_(owners),
                                                                            t.period_end > since)
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
    subs = subscription_periods(session, [owner_id]).get(owner_id, [])
    t = BillingUsageSummary
    known = [(a, b) for a, b in session.execute(
        select(t.period_start, t.period_end).where(t.owner_id == owner_id, t.meter == meter,
                                                   t.period_start <= ts, t.period_end > ts).limit(1))]
    return pick_period(ts, subs, known)


# --- keys and events ----------------------------------------------------------------------------------
def insert_key(session: Session, key: str, ts: datetime) -> bool:
    stmt = _insert(session)(_KEYS).values(idempotency_key=key, timestamp=ts)
    stmt = stmt.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(_KEYS.c.idempotency_key)
    return session.execute(stmt).first() is not None


def insert_event(session: Session, ev: UsageEvent, *, now: datetime, adjusts: str | None = None) -> None:
    session.execute(_EVENTS.insert().values(
        owner_id=ev.owner_id, meter=ev.meter, timestamp=ev.timestamp, idempotency_key=ev.idempotency_key,
        value=ev.value, adjusts=adjusts, unique_key=ev.unique_key, properties=ev.properties, received_at=now))


def unique_seen(session: Session, ev: UsageEvent, period: Period) -> bool:
    """Whether a live (not cancelled) event with this ``unique_key`` is already in the period."""
    e = BillingUsageEvent
    rows = session.execute(select(e.idempotency_key, e.adjusts).where(
        e.owner_id == ev.owner_id, e.meter == ev.meter, e.timestamp >= period[0], e.timestamp < period[1],
        e.unique_key == ev.unique_key)).all()
    cancelled = {adj for _, adj in rows if adj is not None}
    return any(adj is None and key not in cancelled for key, adj in rows)


# --- summaries ----------------------------------------------------------------------------------------
def bump_summary(session: Session, *, owner_id: str, meter: MeterDef, period: Period, value: int, events: int,
                 last_at: datetime, now: datetime) -> tuple[int, int, int]:
    """Fold ``value`` into the period's summary in one upsert. Returns (id, value, version).

    ``value`` is what the aggregation adds: the sum (sum), the count (count), a maximum (max), the newest
    value (last, newest by ``last_at``) or new unique keys (unique_count)."""
    ins = _insert(session)(_SUMMARIES).values(
        owner_id=owner_id, meter=meter.event_name, period_start=period[0], period_end=period[1],
        aggregation=meter.aggregation, value=value, events=events, last_at=last_at, version=1, staged_version=0,
        staged_value=0, updated_at=now)
    t, x = _SUMMARIES.c, ins.excluded
    newer = (t.last_at.is_(None)) | (x.last_at >= t.last_at)
    if meter.aggregation == "max":
        new_value: Any = case((x.value > t.value, x.value), else_=t.value)
    elif meter.aggregation == "last":
        new_value = case((newer, x.value), else_=t.value)
    else:
        new_value = t.value + x.value
    stmt = ins.on_conflict_do_update(
        index_elements=["owner_id", "meter", "period_start"],
        set_={"value": new_value, "events": t.events + x.events, "version": t.version + 1,
              "last_at": case((newer, x.last_at), else_=t.last_at), "updated_at": x.updated_at},
    ).returning(t.id, t.value, t.version)
    row = session.execute(stmt).one()
    return int(row[0]), int(row[1]), int(row[2])


def lock_summary(session: Session, *, owner_id: str, meter: MeterDef, period: Period, now: datetime) -> None:
    """Make sure the period's summary exists and hold its row lock (unique_count and corrections)."""
    ins = _insert(session)(_SUMMARIES).values(
        owner_id=owner_id, meter=meter.event_name, period_start=period[0], period_end=period[1],
        aggregation=meter.aggregation, value=0, events=0, last_at=None, version=0, staged_version=0,
        staged_value=0, updated_at=now)
    session.execute(ins.on_conflict_do_update(index_elements=["owner_id", "meter", "period_start"],
                                              set_={"updated_at": ins.excluded.updated_at}))


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


# --- bulk --------------------------------------------------------------------------------------------
Group = tuple[str, str, datetime, datetime, int]       # owner, meter, period start, end, the period's total

_STAGE = """CREATE TEMP TABLE IF NOT EXISTS billingos_usage_stage (
    owner_id text NOT NULL, meter text NOT NULL, timestamp timestamptz NOT NULL, idempotency_key text NOT NULL,
    value bigint NOT NULL, unique_key text, properties jsonb, period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL, aggregation text NOT NULL) ON COMMIT DELETE ROWS"""
_STAGE_COLUMNS = ("owner_id", "meter", "timestamp", "idempotency_key", "value", "unique_key", "properties",
                  "period_start", "period_end", "aggregation")

# One statement: keys insert-ignored (the forever-unique guard), the new keys' events inserted, and the
# per-(owner, meter, period) aggregates folded into the summaries, returning each period's new total.
_LOAD = """
WITH new AS (
    INSERT INTO billing_usage_keys (idempotency_key, timestamp)
    SELECT idempotency_key, timestamp FROM billingos_usage_stage
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key),
ins AS (
    INSERT INTO billing_usage_events (owner_id, meter, timestamp, idempotency_key, value, unique_key, properties,
                                      received_at)
    SELECT s.owner_id, s.meter, s.timestamp, s.idempotency_key, s.value, s.unique_key, s.properties, :now
    FROM billingos_usage_stage s JOIN new USING (idempotency_key)
    RETURNING 1),
agg AS (
    SELECT s.owner_id, s.meter, s.period_start, s.period_end, s.aggregation, count(*) AS n,
           CASE s.aggregation WHEN 'sum' THEN sum(s.value) WHEN 'count' THEN count(*) WHEN 'max' THEN max(s.value)
                ELSE (array_agg(s.value ORDER BY s.timestamp DESC))[1] END AS value,
           max(s.timestamp) AS last_at
    FROM billingos_usage_stage s JOIN new USING (idempotency_key)
    WHERE s.aggregation <> 'unique_count'
    GROUP BY s.owner_id, s.meter, s.period_start, s.period_end, s.aggregation),
up AS (
    INSERT INTO billing_usage_summaries AS t (owner_id, meter, period_start, period_end, aggregation, value, events,
                                              last_at, version, staged_version, staged_value, updated_at)
    SELECT owner_id, meter, period_start, period_end, aggregation, value, n, last_at, 1, 0, 0, :now FROM agg
    ON CONFLICT (owner_id, meter, period_start) DO UPDATE SET
        value = CASE t.aggregation
            WHEN 'max' THEN greatest(t.value, excluded.value)
            WHEN 'last' THEN CASE WHEN t.last_at IS NULL OR excluded.last_at >= t.last_at
                                  THEN excluded.value ELSE t.value END
            ELSE t.value + excluded.value END,
        events = t.events + excluded.events, version = t.version + 1,
        last_at = greatest(t.last_at, excluded.last_at), updated_at = excluded.updated_at
    RETURNING t.owner_id, t.meter, t.period_start, t.period_end, t.value)
SELECT 'g' AS kind, owner_id, meter, period_start, period_end, value FROM up
UNION ALL SELECT 'n', NULL, NULL, NULL, NULL, (SELECT count(*) FROM ins)
UNION ALL SELECT DISTINCT 'u', s.owner_id, s.meter, s.period_start, s.period_end, 0
    FROM billingos_usage_stage s JOIN new USING (idempotency_key) WHERE s.aggregation = 'unique_count'
"""


def bulk_load(session: Session, rows: Sequence[tuple[UsageEvent, MeterDef, Period]],
              now: datetime) -> tuple[int, list[Group], list[tuple[str, MeterDef, Period]]]:
    """Insert the events whose keys are new and fold them into the summaries.

    Returns (events inserted, per-period totals, unique_count periods to recompute)."""
    if dialect(session) == "postgresql":
        return _copy_postgres(session, rows, now)
    return _batched_sqlite(session, rows, now)


def _esc(value: str | None) -> str:
    """A value in COPY's text format: \\N for NULL, and backslash, tab, newline and CR escaped."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _props(p: dict[str, Any] | None) -> str | None:
    return None if p is None else json.dumps(p, separators=(",", ":"))


def _copy_postgres(session: Session, rows: Sequence[tuple[UsageEvent, MeterDef, Period]],
                   now: datetime) -> tuple[int, list[Group], list[tuple[str, MeterDef, Period]]]:
    """Optimistic: the keys and the events are COPYed straight into their tables, in a savepoint. The keys
    table's primary key is the guard: if any key was seen before (a retried batch) or is being inserted by
    another writer, the COPY fails, the savepoint rolls back, and the load goes through the stage
    (``_LOAD``: insert-ignore, slower but exact). Either way each key is counted once."""
    import psycopg

    fresh = rows
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute("SAVEPOINT billingos_usage_copy")
        try:
            received = now.isoformat()
            stamps: dict[datetime, str] = {}
            keys = [(_esc(ev.idempotency_key), stamps.get(ev.timestamp) or stamps.setdefault(
                ev.timestamp, ev.timestamp.isoformat())) for ev, _, _ in fresh]
            with cur.copy("COPY billing_usage_keys (idempotency_key, timestamp) FROM STDIN") as cp:
                cp.write("".join([f"{k}\t{ts}\n" for k, ts in keys]))
            with cur.copy("COPY billing_usage_events (owner_id, meter, timestamp, idempotency_key, value, unique_key, "
                          "properties, received_at) FROM STDIN") as cp:
                cp.write("".join([
                    f"{_esc(ev.owner_id)}\t{ev.meter}\t{ts}\t{k}\t{ev.value}\t{_esc(ev.unique_key)}\t"
                    f"{_esc(_props(ev.properties))}\t{received}\n"
                    for (ev, _, _), (k, ts) in zip(fresh, keys, strict=True)]))
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT billingos_usage_copy")
            return _stage_postgres(session, fresh, now)
        cur.execute("RELEASE SAVEPOINT billingos_usage_copy")
    groups, uniques = _fold_postgres(session, fresh, now)
    return len(fresh), groups, uniques


_FOLD = """
INSERT INTO billing_usage_summaries AS t (owner_id, meter, period_start, period_end, aggregation, value, events,
                                          last_at, version, staged_version, staged_value, updated_at)
SELECT u.owner_id, u.meter, u.period_start, u.period_end, u.aggregation, u.value, u.n, u.last_at, 1, 0, 0, :now
FROM unnest(CAST(:owners AS text[]), CAST(:meters AS text[]), CAST(:starts AS timestamptz[]),
            CAST(:ends AS timestamptz[]), CAST(:aggs AS text[]), CAST(:values AS bigint[]), CAST(:ns AS bigint[]),
            CAST(:lasts AS timestamptz[]))
     AS u(owner_id, meter, period_start, period_end, aggregation, value, n, last_at)
ON CONFLICT (owner_id, meter, period_start) DO UPDATE SET
    value = CASE t.aggregation
        WHEN 'max' THEN greatest(t.value, excluded.value)
        WHEN 'last' THEN CASE WHEN t.last_at IS NULL OR excluded.last_at >= t.last_at
                              THEN excluded.value ELSE t.value END
        ELSE t.value + excluded.value END,
    events = t.events + excluded.events, version = t.version + 1,
    last_at = greatest(t.last_at, excluded.last_at), updated_at = excluded.updated_at
RETURNING t.owner_id, t.meter, t.period_start, t.period_end, t.value
"""


def _fold_postgres(session: Session, rows: Sequence[tuple[UsageEvent, MeterDef, Period]],
                   now: datetime) -> tuple[list[Group], list[tuple[str, MeterDef, Period]]]:
    """One upsert for every (owner, meter, period) of the load, from aggregates computed here."""
    folds = fold(rows)
    uniques = [(owner, g["m"], g["period"]) for (owner, _, _), g in folds.items()
               if g["m"].aggregation == "unique_count"]
    items = [((owner, meter, start), g) for (owner, meter, start), g in sorted(folds.items(), key=lambda kv: kv[0])
             if g["m"].aggregation != "unique_count"]
    if not items:
        return [], uniques
    params = {"now": now, "owners": [k[0] for k, _ in items], "meters": [k[1] for k, _ in items],
              "starts": [g["period"][0] for _, g in items], "ends": [g["period"][1] for _, g in items],
              "aggs": [g["m"].aggregation for _, g in items], "values": [g["add"] for _, g in items],
              "ns": [g["n"] for _, g in items], "lasts": [g["last"][0] for _, g in items]}
    groups = [(o, m, a, b, int(v)) for o, m, a, b, v in session.execute(text(_FOLD), params)]
    return groups, uniques


def fold(rows: Sequence[tuple[UsageEvent, MeterDef, Period]]) -> dict[tuple[str, str, datetime], dict[str, Any]]:
    """Per (owner, meter, period): count, sum, max, the newest value; ``add`` is what the aggregation adds."""
    folds: dict[tuple[str, str, datetime], dict[str, Any]] = {}
    for ev, m, period in rows:
        g = folds.get((ev.owner_id, m.event_name, period[0]))
        if g is None:
            folds[(ev.owner_id, m.event_name, period[0])] = {
                "m": m, "period": period, "sum": ev.value, "n": 1, "max": ev.value, "last": (ev.timestamp, ev.value)}
            continue
        g["n"] += 1
        g["sum"] += ev.value
        if ev.value > g["max"]:
            g["max"] = ev.value
        if ev.timestamp >= g["last"][0]:
            g["last"] = (ev.timestamp, ev.value)
    for g in folds.values():
        g["add"] = {"sum": g["sum"], "count": g["n"], "max": g["max"], "last": g["last"][1],
                    "unique_count": 0}[g["m"].aggregation]
    return folds


def _stage_postgres(session: Session, rows: Sequence[tuple[UsageEvent, MeterDef, Period]],
                    now: datetime) -> tuple[int, list[Group], list[tuple[str, MeterDef, Period]]]:
    """The always-correct path under concurrent writers: COPY into a stage, then ``_LOAD`` (insert-ignore)."""
    session.execute(text(_STAGE))
    session.execute(text("TRUNCATE billingos_usage_stage"))
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY billingos_usage_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as cp:
        write = cp.write_row
        for ev, m, (start, end) in rows:
            write((ev.owner_id, ev.meter, ev.timestamp, ev.idempotency_key, ev.value, ev.unique_key,
                   _props(ev.properties), start, end, m.aggregation))
    meters = {m.event_name: m for _, m, _ in rows}
    inserted, groups, uniques = 0, [], []
    for kind, owner, meter, start, end, value in session.execute(text(_LOAD), {"now": now}):
        if kind == "n":
            inserted = int(value)
        elif kind == "g":
            groups.append((owner, meter, start, end, int(value)))
        else:
            uniques.append((owner, meters[meter], (start, end)))
    return inserted, groups, uniques


def _batched_sqlite(session: Session, rows: Sequence[tuple[UsageEvent, MeterDef, Period]], now: datetime,
                    batch: int = 5000) -> tuple[int, list[Group], list[tuple[str, MeterDef, Period]]]:
    """Keys insert-ignored in multi-row batches (RETURNING tells which are new), events by executemany,
    then one summary upsert per (owner, meter, period)."""
    done: list[tuple[UsageEvent, MeterDef, Period]] = []
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        stmt = sqlite.insert(_KEYS).values([{"idempotency_key": ev.idempotency_key, "timestamp": ev.timestamp}
                                            for ev, _, _ in chunk])
        new = set(session.execute(stmt.on_conflict_do_nothing(index_elements=["idempotency_key"])
                                  .returning(_KEYS.c.idempotency_key)).scalars())
        fresh = [r for r in chunk if r[0].idempotency_key in new]
        if fresh:
            session.execute(_EVENTS.insert(), [    # executemany
                {"owner_id": ev.owner_id, "meter": ev.meter, "timestamp": ev.timestamp,
                 "idempotency_key": ev.idempotency_key, "value": ev.value, "adjusts": None,
                 "unique_key": ev.unique_key, "properties": ev.properties, "received_at": now}
                for ev, _, _ in fresh])
        done += fresh
    groups: list[Group] = []
    uniques: list[tuple[str, MeterDef, Period]] = []
    for (owner, _, _), g in sorted(fold(done).items(), key=lambda kv: kv[0]):
        m, period = g["m"], g["period"]
        if m.aggregation == "unique_count":
            uniques.append((owner, m, period))
            continue
        _, total, _ = bump_summary(session, owner_id=owner, meter=m, period=period, value=g["add"], events=g["n"],
                                   last_at=g["last"][0], now=now)
        groups.append((owner, m.event_name, period[0], period[1], total))
    return len(done), groups, uniques
