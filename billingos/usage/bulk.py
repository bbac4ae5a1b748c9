"""Bulk loads for ``track_many``: validation, each event's billing period, the per-period aggregates and
the writes, in one transaction.

PostgreSQL: the keys and then the events are COPYed straight into their tables inside a savepoint. Each
COPY is streamed in blocks, so the server inserts one block while Python validates or formats the next;
the periods and aggregates are worked out while the server finishes the events. The keys table's primary
key is the guard: if any key was seen before (a retried batch) or is being written by another loader, the
COPY fails, the savepoint rolls back and the load goes through a stage with an insert-ignore (exact, and
slower). SQLite: multi-row insert-ignores of the keys (RETURNING tells which are new), then the new events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from .. import validation
from ..errors import InvalidInputError
from . import repository as repo
from .events import EventBatch, collect
from .models import BillingUsageEvent, BillingUsageKey, BillingUsageSummary
from .repository import Period
from .schemas import MeterDef, UsageEvent

__all__ = ["Group", "Loaded", "assign_periods", "fold", "load", "named_pairs"]

Group = tuple[str, str, datetime, datetime, int]       # owner, meter, period start, end, the period's total
Late = Callable[[int, datetime, Period], None]          # refuses an event (by input index) outside the grace
_EVENTS: Table = BillingUsageEvent.__table__  # type: ignore[assignment]
_KEYS: Table = BillingUsageKey.__table__  # type: ignore[assignment]
_SUMMARIES: Table = BillingUsageSummary.__table__  # type: ignore[assignment]
_BLOCK = 2000                                          # rows per COPY write: ~150 KB of text


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a load did: events inserted, duplicates dropped, the new totals of the periods it touched,
    and the ``unique_count`` periods the caller must recompute from their events."""

    inserted: int
    duplicates: int
    groups: list[Group]
    uniques: list[tuple[str, MeterDef, Period]]


def load(session: Session, events: Sequence[Mapping[str, Any] | UsageEvent], meter_of: Callable[[Any], MeterDef],
         now: datetime, late: Late) -> Loaded:
    """Validate ``events``, insert those whose keys are new and fold them into the summaries."""
    if repo.dialect(session) == "postgresql":
        return _copy_postgres(session, events, meter_of, now, late)
    batch = collect(events, meter_of, now)
    return _batched_sqlite(session, batch, _periods(session, batch, late), now)


def named_pairs(events: Iterable[Any]) -> set[tuple[str, str]]:
    """The (owner_id, meter) pairs that ``events`` name, read before validation so that per-owner limits
    can be looked up outside the write transaction. Malformed events are left out: validation refuses them."""
    try:    # the common case: dicts with both fields as hashable values
        named: set[Any] = {(e["owner_id"], e["meter"]) for e in events}
    except Exception:     # anything else (missing fields, lists, other types): one by one
        named = _named_slowly(events)
    out = set()
    for owner, meter in named:
        if type(owner) is str and type(meter) is str:
            try:
                out.add((validation.owner_id(owner), validation.meter_name(meter)))
            except InvalidInputError:
                continue
    return out


def _named_slowly(events: Iterable[Any]) -> set[tuple[str, str]]:
    named: set[tuple[str, str]] = set()
    for e in events:
        if type(e) is dict or isinstance(e, Mapping):
            owner, meter = e.get("owner_id"), e.get("meter")
        elif isinstance(e, UsageEvent):
            owner, meter = e.owner_id, e.meter
        else:
            continue
        if type(owner) is str and type(meter) is str:
            named.add((owner, meter))
    return named


def assign_periods(batch: EventBatch, subs: dict[str, list[tuple[Period, str, int]]],
                   known: dict[tuple[str, str], list[Period]], late: Late) -> list[Period]:
    """Each event's billing period (see ``repository.pick_period``). Consecutive events of one owner and
    meter usually share a period, so the last one is remembered per pair."""
    memo: dict[tuple[str, str], Period] = {}
    periods: list[Period] = []
    for i, (owner, m, ts) in enumerate(zip(batch.owners, batch.meters, batch.stamps, strict=True)):
        pair = (owner, m.event_name)
        period = memo.get(pair)
        if period is None or not period[0] <= ts < period[1]:
            period = repo.pick_period(ts, subs.get(owner, []), known.get(pair, []))
            late(batch.positions[i], ts, period)
            memo[pair] = period
        periods.append(period)
    return periods


def _period_sources(session: Session, batch: EventBatch) -> tuple[dict[str, list[tuple[Period, str, int]]],
                                                                  dict[tuple[str, str], list[Period]]]:
    """What periods are picked from: the owners' live subscriptions and their existing summaries."""
    assert batch.oldest is not None
    return (repo.subscription_periods(session, {owner for owner, _ in batch.pairs}),
            repo.summary_periods(session, batch.pairs, batch.oldest))


def _periods(session: Session, batch: EventBatch, late: Late) -> list[Period]:
    if not batch:
        return []
    return assign_periods(batch, *_period_sources(session, batch), late)


def fold(batch: EventBatch, periods: Sequence[Period],
         only: Sequence[int] | None = None) -> dict[tuple[str, str, datetime], list[Any]]:
    """Per (owner, meter, period start): [meter, period, count, sum, max, newest timestamp, newest value,
    what the aggregation adds], over every event or the indices in ``only``."""
    folds: dict[tuple[str, str, datetime], list[Any]] = {}
    owners, meters, values, stamps = batch.owners, batch.meters, batch.values, batch.stamps
    for i in range(len(batch)) if only is None else only:
        m, period, v, ts = meters[i], periods[i], values[i], stamps[i]
        g = folds.get((owners[i], m.event_name, period[0]))
        if g is None:
            folds[(owners[i], m.event_name, period[0])] = [m, period, 1, v, v, ts, v, 0]
            continue
        g[2] += 1
        g[3] += v
        if v > g[4]:
            g[4] = v
        if ts >= g[5]:
            g[5], g[6] = ts, v
    for g in folds.values():
        g[7] = {"sum": g[3], "count": g[2], "max": g[4], "last": g[6], "unique_count": 0}[g[0].aggregation]
    return folds


# --- PostgreSQL ------------------------------------------------------------------------------------------
def _esc(value: str | None) -> str:
    """A value in COPY's text format: \\N for NULL, and backslash, tab, newline and CR escaped."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _props(p: dict[str, Any] | None) -> str | None:
    return None if p is None else json.dumps(p, separators=(",", ":"))


def _blocks(lines: Iterator[str]) -> Iterator[str]:
    """``lines`` joined into blocks of ``_BLOCK`` rows, one COPY write each."""
    block: list[str] = []
    for line in lines:
        block.append(line)
        if len(block) == _BLOCK:
            yield "".join(block)
            block.clear()
    if block:
        yield "".join(block)


class _Text:
    """The batch's keys and timestamps in COPY text, formatted once as the keys stream, and its owners,
    escaped once each."""

    def __init__(self, batch: EventBatch) -> None:
        self.batch = batch
        self.keys: list[str] = []
        self.stamps: list[str] = []

    def key_lines(self, added: Iterator[int]) -> Iterator[str]:
        keys, stamps, out_keys, out_stamps = self.batch.keys, self.batch.stamps, self.keys, self.stamps
        last: datetime | None = None
        text_of_last = ""
        for i in added:
            k, t = keys[i], stamps[i]
            k = k if "\\" not in k else _esc(k)             # keys are visible ASCII: only \ needs escaping
            if t is not last:                                # runs of one timestamp are formatted once
                last, text_of_last = t, t.isoformat()
            out_keys.append(k)
            out_stamps.append(text_of_last)
            yield f"{k}\t{text_of_last}\n"

    def event_lines(self, tails: Iterable[str]) -> Iterator[str]:
        """The events' columns owner_id .. properties, each line ending with its ``tails`` item."""
        b, null = self.batch, "\\N"
        owners: dict[str, str] = {}
        for o, m, t, k, v, u, p, tail in zip(b.owners, b.meters, self.stamps, self.keys, b.values, b.uniques,
                                             b.props, tails, strict=False):    # tails may be endless
            yield (f"{owners.get(o) or owners.setdefault(o, _esc(o))}\t{m.event_name}\t{t}\t{k}\t{v}\t"
                   f"{null if u is None else _esc(u)}\t{null if p is None else _esc(_props(p))}\t{tail}\n")


def _copy_postgres(session: Session, events: Sequence[Any], meter_of: Callable[[Any], MeterDef], now: datetime,
                   late: Late) -> Loaded:
    import psycopg

    raw = session.connection().connection.driver_connection
    assert raw is not None
    batch = EventBatch()
    added = batch.add(events, meter_of, now)
    if _looks_retried(session, events):
        # Most keys are probably stored already: drop them up front rather than fail a COPY on them.
        for _ in added:
            pass
        batch = batch.without(_stored_keys(session, batch.keys))
        added = iter(range(len(batch)))
    out = _Text(batch)
    with raw.cursor() as cur:
        cur.execute("SAVEPOINT billingos_usage_copy")
        try:
            with cur.copy("COPY billing_usage_keys (idempotency_key, timestamp) FROM STDIN") as cp:
                for block in _blocks(out.key_lines(added)):    # validates as it streams
                    cp.write(block)
            if not batch:
                cur.execute("RELEASE SAVEPOINT billingos_usage_copy")
                return Loaded(0, batch.dropped, [], [])
            sources = _period_sources(session, batch)
            with cur.copy("COPY billing_usage_events (owner_id, meter, timestamp, idempotency_key, value, "
                          "unique_key, properties, received_at) FROM STDIN") as cp:
                for block in _blocks(out.event_lines(repeat(now.isoformat()))):
                    cp.write(block)
                periods = assign_periods(batch, *sources, late)   # while the server inserts the last blocks
                folds = fold(batch, periods)
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT billingos_usage_copy")
            for _ in out.key_lines(added):                     # the rest of the batch, if the COPY stopped early
                pass
            return _stage_postgres(session, out, _periods(session, batch, late), now)
        except BaseException:
            cur.execute("ROLLBACK TO SAVEPOINT billingos_usage_copy")
            raise
        cur.execute("RELEASE SAVEPOINT billingos_usage_copy")
    groups, uniques = _fold_postgres(session, folds, now)
    return Loaded(len(batch), batch.dropped, groups, uniques)


# How a summary grows when a load adds to it; shared by the COPY path and the stage path.
_GROW = """
ON CONFLICT (owner_id, meter, period_start) DO UPDATE SET
    value = CASE t.aggregation
        WHEN 'max' THEN greatest(t.value, excluded.value)
        WHEN 'last' THEN CASE WHEN t.last_at IS NULL OR excluded.last_at >= t.last_at
                              THEN excluded.value ELSE t.value END
        ELSE t.value + excluded.value END,
    events = t.events + excluded.events, version = t.version + 1,
    last_at = greatest(t.last_at, excluded.last_at), updated_at = excluded.updated_at
RETURNING t.owner_id, t.meter, t.period_start, t.period_end, t.value"""

def _looks_retried(session: Session, events: Sequence[Any], sample: int = 8) -> bool:
    """Whether a few of the events' keys (first, last and between) are stored already: a retried batch."""
    picks = [events[i] for i in sorted({i * (len(events) - 1) // (sample - 1) for i in range(sample)})] \
        if events else []
    named = [e.get("idempotency_key") if isinstance(e, Mapping) else getattr(e, "idempotency_key", None)
             for e in picks]
    keys = [str(k) for k in named if _is_key(k)]
    return bool(keys) and bool(_stored_keys(session, keys))


def _is_key(value: Any) -> bool:
    """A well-formed key (sampled before validation: a malformed one is refused later, never queried)."""
    try:
        validation.idempotency_key(value)
    except InvalidInputError:
        return False
    return True


def _stored_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of ``keys`` are in the keys table (one query; the array goes as one literal string)."""
    # A join, not ``= ANY(:keys)``: with stale statistics (a fresh or just-truncated table) the planner may
    # scan the table and test every row against the whole array, which took 17 s for 50,000 keys.
    found = session.execute(text("SELECT k.idempotency_key FROM unnest(CAST(:keys AS text[])) AS u(key) "
                                 "JOIN billing_usage_keys k ON k.idempotency_key = u.key"),
                            {"keys": "{" + ",".join([_quoted(k) for k in keys]) + "}"})
    return set(found.scalars())


_FOLD = """
INSERT INTO billing_usage_summaries AS t (owner_id, meter, period_start, period_end, aggregation, value, events,
                                          last_at, version, staged_version, staged_value, updated_at)
SELECT u.owner_id, u.meter, u.period_start, u.period_end, u.aggregation, u.value, u.n, u.last_at, 1, 0, 0, :now
FROM unnest(CAST(:owners AS text[]), CAST(:meters AS text[]), CAST(:starts AS timestamptz[]),
            CAST(:ends AS timestamptz[]), CAST(:aggs AS text[]), CAST(:values AS bigint[]), CAST(:ns AS bigint[]),
            CAST(:lasts AS timestamptz[]))
     AS u(owner_id, meter, period_start, period_end, aggregation, value, n, last_at)""" + _GROW


def _fold_postgres(session: Session, folds: dict[tuple[str, str, datetime], list[Any]],
                   now: datetime) -> tuple[list[Group], list[tuple[str, MeterDef, Period]]]:
    """One upsert for every (owner, meter, period) of the load, in key order (a fixed lock order)."""
    uniques = [(owner, g[0], g[1]) for (owner, _, _), g in folds.items() if g[0].aggregation == "unique_count"]
    items = sorted((k, g) for k, g in folds.items() if g[0].aggregation != "unique_count")
    if not items:
        return [], uniques
    iso: dict[datetime, str] = {}

    def stamps(values: Iterable[datetime]) -> str:
        return "{" + ",".join([iso.get(t) or iso.setdefault(t, t.isoformat()) for t in values]) + "}"

    # Array literals built here: one string per column is several times cheaper to send than a list
    # adapted element by element. Meters and aggregations are event names and words: no quoting needed.
    params = {"now": now,
              "owners": "{" + ",".join([_quoted(k[0]) for k, _ in items]) + "}",
              "meters": "{" + ",".join([k[1] for k, _ in items]) + "}",
              "starts": stamps(g[1][0] for _, g in items), "ends": stamps(g[1][1] for _, g in items),
              "aggs": "{" + ",".join([g[0].aggregation for _, g in items]) + "}",
              "values": "{" + ",".join([str(g[7]) for _, g in items]) + "}",
              "ns": "{" + ",".join([str(g[2]) for _, g in items]) + "}",
              "lasts": stamps(g[5] for _, g in items)}
    groups = [(o, m, a, b, int(v)) for o, m, a, b, v in session.execute(text(_FOLD), params).all()]
    return groups, uniques


def _quoted(value: str) -> str:
    """An array element, double-quoted with backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_STAGE = """CREATE TEMP TABLE IF NOT EXISTS billingos_usage_stage (
    owner_id text NOT NULL, meter text NOT NULL, timestamp timestamptz NOT NULL, idempotency_key text NOT NULL,
    value bigint NOT NULL, unique_key text, properties jsonb, period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL, aggregation text NOT NULL) ON COMMIT DELETE ROWS"""

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
    ORDER BY owner_id, meter, period_start""" + _GROW + """)
SELECT 'g' AS kind, owner_id, meter, period_start, period_end, value FROM up
UNION ALL SELECT 'n', NULL, NULL, NULL, NULL, (SELECT count(*) FROM ins)
UNION ALL SELECT DISTINCT 'u', s.owner_id, s.meter, s.period_start, s.period_end, 0
    FROM billingos_usage_stage s JOIN new USING (idempotency_key) WHERE s.aggregation = 'unique_count'
"""


def _stage_postgres(session: Session, out: _Text, periods: Sequence[Period], now: datetime) -> Loaded:
    """The exact path under duplicates and concurrent loaders: COPY into a stage, then ``_LOAD``."""
    batch = out.batch
    session.execute(text(_STAGE))
    session.execute(text("TRUNCATE billingos_usage_stage"))
    raw = session.connection().connection.driver_connection
    assert raw is not None
    bounds = {b: f"{b[0].isoformat()}\t{b[1].isoformat()}" for b in set(periods)}
    with raw.cursor() as cur, cur.copy("COPY billingos_usage_stage (owner_id, meter, timestamp, idempotency_key, "
                                       "value, unique_key, properties, period_start, period_end, aggregation) "
                                       "FROM STDIN") as cp:
        tails = (f"{bounds[b]}\t{m.aggregation}" for m, b in zip(batch.meters, periods, strict=True))
        for block in _blocks(out.event_lines(tails)):
            cp.write(block)
    meters = {m.event_name: m for m in batch.meters}
    inserted, groups, uniques = 0, [], []
    for kind, owner, meter, start, end, value in session.execute(text(_LOAD), {"now": now}):
        if kind == "n":
            inserted = int(value)
        elif kind == "g":
            groups.append((owner, meter, start, end, int(value)))
        else:
            uniques.append((owner, meters[meter], (start, end)))
    return Loaded(inserted, batch.dropped + len(batch) - inserted, groups, uniques)


# --- SQLite ----------------------------------------------------------------------------------------------
def _batched_sqlite(session: Session, batch: EventBatch, periods: Sequence[Period], now: datetime) -> Loaded:
    """Keys insert-ignored (RETURNING tells which are new), the new events inserted, then one upsert for
    every (owner, meter, period). Each is one statement run over many rows: SQLAlchemy packs the rows into
    multi-row VALUES within SQLite's parameter limit."""
    new = set()
    if batch:
        new = set(session.scalars(
            sqlite.insert(_KEYS).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(_KEYS.c.idempotency_key),
            [{"idempotency_key": k, "timestamp": t} for k, t in zip(batch.keys, batch.stamps, strict=True)]))
    fresh = [i for i, k in enumerate(batch.keys) if k in new]
    if fresh:
        session.execute(_EVENTS.insert(), [
            {"owner_id": batch.owners[i], "meter": batch.meters[i].event_name, "timestamp": batch.stamps[i],
             "idempotency_key": batch.keys[i], "value": batch.values[i], "adjusts": None,
             "unique_key": batch.uniques[i], "properties": batch.props[i], "received_at": now}
            for i in fresh])
    folds = fold(batch, periods, fresh)
    uniques = [(owner, g[0], g[1]) for (owner, _, _), g in folds.items() if g[0].aggregation == "unique_count"]
    rows = [repo.summary_row(owner_id=owner, meter=g[0], period=g[1], value=g[7], events=g[2], last_at=g[5], now=now)
            for (owner, _, _), g in sorted(folds.items(), key=lambda kv: kv[0]) if g[0].aggregation != "unique_count"]
    groups: list[Group] = []
    if rows:
        t = _SUMMARIES.c
        upsert = repo.statements(session).fold.returning(t.owner_id, t.meter, t.period_start, t.period_end, t.value)
        groups = [(o, m, a, b, int(v)) for o, m, a, b, v in session.execute(upsert, rows)]
    return Loaded(len(fresh), batch.dropped + len(batch) - len(fresh), groups, uniques)
