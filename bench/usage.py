"""Usage tracking: ``track`` latency and ``track_many`` throughput, each against a raw baseline.

    .venv/bin/python bench/usage.py [--track 2000] [--bulk 200000] [--batch 50000] [--rounds 5]

- ``track`` (one event, its own transaction: period lookups, key insert-ignore, event insert, summary
  upsert) against a bare ``INSERT`` of the same row into ``billing_usage_events``, one transaction each.
- ``track_many`` (validation, periods, COPY of the keys and of the events, summaries folded) against a raw
  ``COPY`` of the same rows into ``billing_usage_events`` on PostgreSQL, a raw ``executemany`` INSERT on
  SQLite. Each also runs with every event a duplicate (all dropped), and again with random UUID keys and
  timestamps spread over the last 50 minutes (both sides get the same rows).

All in one process, on the same database and tables, in the same run. Stripe is the in-process emulator.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from bench._common import figure, per_second, percentiles, postgres_schema, row, timed
from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from billingos.usage.models import BillingUsageEvent

COLUMNS = ("owner_id", "meter", "timestamp", "idempotency_key", "value", "adjusts", "unique_key", "properties",
           "received_at")


def make_billing(engine: Engine) -> Billing:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    billing = Billing(engine=engine, emulator=Emulator(clock=clock), clock=clock)
    billing.migrate()
    billing.usage.define_meter("api_calls", aggregation="sum")
    return billing


def reset(engine: Engine) -> None:
    """Empty the usage tables. TRUNCATE on PostgreSQL: DELETE would leave dead index entries behind that
    slow the next round's inserts, and the keys table (which only billingos writes) would pay the most."""
    tables = ("billing_usage_events", "billing_usage_keys", "billing_usage_summaries")
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text(f"TRUNCATE {', '.join(tables)}"))
        else:
            for t in tables:
                c.execute(text(f"DELETE FROM {t}"))


def events(n: int, prefix: str, now: datetime, owners: int = 1000, *, spread: bool = False) -> list[dict[str, Any]]:
    """``n`` events over ``owners`` owners. Plain: sequential keys, one timestamp. ``spread``: random UUID
    keys (every key lands somewhere else in the keys' index) and timestamps over the last 50 minutes."""
    if not spread:
        return [{"owner_id": f"org_{i % owners}", "meter": "api_calls", "value": 1 + i % 7,
                 "idempotency_key": f"{prefix}_{i}", "timestamp": now} for i in range(n)]
    rnd = random.Random(prefix)
    return [{"owner_id": f"org_{i % owners}", "meter": "api_calls", "value": 1 + i % 7,
             "idempotency_key": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
             "timestamp": now - timedelta(microseconds=rnd.randrange(3_000_000_000))} for i in range(n)]


def raw_rows(evs: list[dict[str, Any]], now: datetime) -> list[tuple[Any, ...]]:
    return [(e["owner_id"], e["meter"], e["timestamp"], e["idempotency_key"], e["value"], None, None, None, now)
            for e in evs]


# --- track latency -----------------------------------------------------------------------------------
def bench_track(billing: Billing, n: int) -> tuple[tuple[float, float], tuple[float, float]]:
    engine, now = billing.engine, billing.now()
    table = BillingUsageEvent.__table__
    warm = 200

    def raw(i: int) -> int:
        t = time.perf_counter_ns()
        with engine.begin() as c:
            c.execute(insert(table).values(owner_id=f"org_{i % 1000}", meter="api_calls", timestamp=now,
                                           idempotency_key=f"raw_{i}", value=1, received_at=now))
        return time.perf_counter_ns() - t

    def ours(i: int) -> int:
        t = time.perf_counter_ns()
        billing.usage.track(f"org_{i % 1000}", "api_calls", 1, f"trk_{i}")
        return time.perf_counter_ns() - t

    base, meas = [], []
    for i in range(warm):
        raw(-i - 1)
        ours(-i - 1)
    for i in range(n):                 # interleaved, so both see the same machine state
        base.append(raw(i))
        meas.append(ours(i))
    reset(engine)
    return percentiles(base), percentiles(meas)


# --- track_many throughput -----------------------------------------------------------------------------
def raw_copy(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    with engine.begin() as c:
        raw = c.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY billing_usage_events ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)


def raw_executemany(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    table = BillingUsageEvent.__table__
    with engine.begin() as c:
        c.execute(insert(table), [dict(zip(COLUMNS, r, strict=True)) for r in rows])


def bench_bulk(billing: Billing, n: int, batch: int, rounds: int, *, spread: bool = False) -> dict[str, float]:
    engine, now = billing.engine, billing.now()
    pg = engine.dialect.name == "postgresql"
    base_t, ours_t, dup_t = [], [], []
    for r in range(rounds):
        evs = events(n, f"b{r}", now, spread=spread)
        rows = raw_rows(evs, now)
        reset(engine)
        base_t.append(timed(lambda rows=rows: [
            (raw_copy if pg else raw_executemany)(engine, rows[i:i + batch]) for i in range(0, n, batch)]))
        reset(engine)
        results = []
        ours_t.append(timed(lambda evs=evs, results=results: [
            results.append(billing.usage.track_many(evs[i:i + batch])) for i in range(0, n, batch)]))
        assert sum(x.inserted for x in results) == n, results
        again = []
        dup_t.append(timed(lambda evs=evs, again=again: [
            again.append(billing.usage.track_many(evs[i:i + batch])) for i in range(0, n, batch)]))
        assert sum(x.duplicates for x in again) == n
    reset(engine)
    base, ours, dup = (statistics.median(x) for x in (base_t, ours_t, dup_t))
    return {"baseline_eps": per_second(n, base), "ours_eps": per_second(n, ours), "dup_eps": per_second(n, dup)}


def report(name: str, billing: Billing, args: argparse.Namespace) -> None:
    (b50, b99), (o50, o99) = bench_track(billing, args.track)
    print(f"\n== {name} ==")
    print(row("", "baseline", "billingos", "ratio"))
    print(row("track p50 (µs)", f"{b50:.0f}", f"{o50:.0f}", f"{o50 / b50:.2f}x"))
    print(row("track p99 (µs)", f"{b99:.0f}", f"{o99:.0f}", f"{o99 / b99:.2f}x"))
    n = args.bulk if billing.engine.dialect.name == "postgresql" else min(args.bulk, 50000)
    bulk = bench_bulk(billing, n, args.batch, args.rounds)
    label = "raw COPY" if billing.engine.dialect.name == "postgresql" else "raw executemany"
    print(row(f"track_many events/s ({n} events)", f"{bulk['baseline_eps']:.0f}", f"{bulk['ours_eps']:.0f}",
              f"{bulk['ours_eps'] / bulk['baseline_eps']:.2f}"))
    print(row("track_many, all duplicates, events/s", f"{bulk['baseline_eps']:.0f}", f"{bulk['dup_eps']:.0f}",
              f"{bulk['dup_eps'] / bulk['baseline_eps']:.2f}"))
    spread = bench_bulk(billing, n, args.batch, args.rounds, spread=True)
    print(row("  random UUID keys, spread timestamps", f"{spread['baseline_eps']:.0f}", f"{spread['ours_eps']:.0f}",
              f"{spread['ours_eps'] / spread['baseline_eps']:.2f}"))
    print(row("  the same, all duplicates", f"{spread['baseline_eps']:.0f}", f"{spread['dup_eps']:.0f}",
              f"{spread['dup_eps'] / spread['baseline_eps']:.2f}"))
    print(f"(baseline = {label} into billing_usage_events of the same rows; median of {args.rounds} rounds, "
          f"batches of {args.batch})")
    figure("usage", name, "track p50, one event per transaction", o50, "µs", baseline="bare INSERT p50",
           baseline_value=b50)
    figure("usage", name, "track p99", o99, "µs", baseline="bare INSERT p99", baseline_value=b99)
    for what, result, key in (("track_many, new events", bulk, "ours_eps"),
                              ("track_many, the same events again (all duplicates)", bulk, "dup_eps"),
                              ("track_many, random UUID keys, spread timestamps", spread, "ours_eps"),
                              ("the same, all duplicates", spread, "dup_eps")):
        figure("usage", name, f"{what} ({n:,} events)", result[key], "events/s", baseline=label,
               baseline_value=result["baseline_eps"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--track", type=int, default=2000)
    p.add_argument("--bulk", type=int, default=200000)
    p.add_argument("--batch", type=int, default=50000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from billingos.billing import _make_engine
        engine = _make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        report("SQLite (file, WAL)", make_billing(engine), args)
        engine.dispose()
    with postgres_schema() as pg:
        if pg is None:
            print("\nPostgreSQL not reachable: skipped")
            return
        report("PostgreSQL", make_billing(pg), args)


if __name__ == "__main__":
    main()
