"""Feature checks: ``billing.has_feature`` on each level of the cache hierarchy, against raw baselines.

    .venv/bin/python bench/entitlements.py [--quick]

1. In-process hit: ``has_feature`` vs a bare dict lookup (``d[k]``), both timed in the same loop shape
   (batches of calls; per-call time = batch time / batch size). Also the bytes allocated per call.
2. Redis hit (local entry expired, Redis snapshot current): ``has_feature`` vs a raw redis-py ``GET``
   of a value of the same size, on the same connection pool.
3. Database miss (no local entry, no Redis): ``has_feature`` vs a bare ``SELECT`` of the owner's grant
   rows on the same engine, on PostgreSQL (and SQLite for reference).

Every figure is printed with its baseline and the ratio (p50 and p99), all measured in this run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from bench._common import figure
from billingos import Billing
from billingos.clock import FrozenClock
from billingos.emulator import Emulator

PG_URL = os.environ.get("BILLINGOS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BILLINGOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
QUICK = "--quick" in sys.argv
OWNER = "org_bench"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def batched(fn: Callable[[], Any], *, batch: int, samples: int) -> list[float]:
    """Per-call nanoseconds, one sample per batch of ``batch`` calls."""
    for _ in range(batch * 10):
        fn()
    out = []
    perf = time.perf_counter_ns
    for _ in range(samples):
        start = perf()
        for _ in range(batch):
            fn()
        out.append((perf() - start) / batch)
    return out


def interleaved(base: Callable[[], Any], fn: Callable[[], Any], *, samples: int,
                before: Callable[[], Any] | None = None) -> tuple[list[float], list[float]]:
    """Per-call nanoseconds of ``base`` and ``fn``, alternating call by call so both see the same machine."""
    perf = time.perf_counter_ns
    out_base: list[float] = []
    out_fn: list[float] = []
    for n in range(samples + min(200, samples)):
        start = perf()
        base()
        took_base = perf() - start
        if before:
            before()
        start = perf()
        fn()
        took = perf() - start
        if n >= min(200, samples):
            out_base.append(took_base)
            out_fn.append(took)
    return out_base, out_fn


def report(name: str, unit: str, base_name: str, base: list[float], measured: list[float]) -> dict[str, float]:
    scale = 1000.0 if unit == "µs" else 1.0
    row = {"base_p50": pct(base, 0.5) / scale, "base_p99": pct(base, 0.99) / scale,
           "p50": pct(measured, 0.5) / scale, "p99": pct(measured, 0.99) / scale}
    row["ratio_p50"] = row["p50"] / row["base_p50"]
    row["ratio_p99"] = row["p99"] / row["base_p99"]
    for q in ("p50", "p99"):
        figure("entitlements", name.split(". ", 1)[-1], f"has_feature {q}", row[q], unit, baseline=f"{base_name} {q}",
               baseline_value=row[f"base_{q}"])
    print(f"{name}\n  baseline {base_name}: p50 {row['base_p50']:.3f} {unit}, p99 {row['base_p99']:.3f} {unit}\n"
          f"  has_feature:         p50 {row['p50']:.3f} {unit}, p99 {row['p99']:.3f} {unit}\n"
          f"  ratio:               p50 {row['ratio_p50']:.2f}x, p99 {row['ratio_p99']:.2f}x")
    return row


def make_billing(engine: Any, *, redis_url: str | None = None, namespace: str | None = None) -> Billing:
    clock = FrozenClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
    billing = Billing(engine=engine, emulator=Emulator(clock=clock), clock=clock, redis_url=redis_url)
    if namespace:
        billing.entitlements.configure(redis_namespace=namespace)
    return billing


def seed(billing: Billing) -> None:
    v1 = billing.stripe.v1
    for key in ("export", "sso", "reports"):
        v1.entitlements.features.create(params={"name": key, "lookup_key": key})
    for key in ("export", "sso", "reports"):
        billing.entitlements.grant(OWNER, key)


def in_process(billing: Billing) -> dict[str, float]:
    assert billing.has_feature(OWNER, "export")
    billing.entitlements.configure(local_ttl=3600)
    billing.has_feature(OWNER, "export")
    d = {OWNER: {"export": True}}
    flags = d[OWNER]
    n = 200 if QUICK else 2000
    base = batched(lambda: flags["export"], batch=1000, samples=n)
    has = billing.has_feature
    measured = batched(lambda: has(OWNER, "export"), batch=1000, samples=n)
    row = report("1. in-process hit (SQLite; batches of 1000 calls)", "ns", "dict lookup d[k]", base, measured)
    tracemalloc.start()
    for _ in range(1000):
        has(OWNER, "export")
    before = tracemalloc.take_snapshot()
    for _ in range(100_000):
        has(OWNER, "export")
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    row["bytes_per_call"] = grown / 100_000
    print(f"  allocation: {row['bytes_per_call']:.4f} bytes retained per call over 100,000 calls")
    return row


def redis_hit(engine: Any) -> dict[str, float] | None:
    import redis
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
        client.ping()
    except Exception as e:
        print(f"2. Redis hit: skipped ({type(e).__name__}: Redis not reachable)")
        return None
    namespace = f"billingos-bench:{uuid.uuid4().hex[:8]}"
    billing = make_billing(engine, redis_url=REDIS_URL, namespace=namespace)
    try:
        assert billing.has_feature(OWNER, "export")
        cache = billing.entitlements.cache
        cache.wait_listening()
        snapshot = cache.redis.get(f"{namespace}:s:{OWNER}")
        cache.redis.set(f"{namespace}:bench", snapshot)
        raw = cache.redis

        def expire() -> None:
            cache.entries[OWNER].deadline = 0.0

        n = 500 if QUICK else 5000
        key = f"{namespace}:bench"
        base, measured = interleaved(lambda: raw.get(key), lambda: billing.has_feature(OWNER, "export"),
                                     samples=n, before=expire)
        assert billing.has_feature(OWNER, "export")
        return report(f"2. Redis hit (local entry expired; {len(snapshot)}-byte snapshot)", "µs",
                      "redis-py GET (same size)", base, measured)
    finally:
        keys = list(billing.entitlements.cache.redis.scan_iter(f"{namespace}:*"))
        if keys:
            billing.entitlements.cache.redis.delete(*keys)
        billing.entitlements.close()


def db_miss(engine: Any, label: str) -> dict[str, float]:
    billing = make_billing(engine)
    assert billing.has_feature(OWNER, "export")
    entries = billing.entitlements.cache.entries
    query = text("SELECT feature_key, source, expires_at, grace_until FROM billing_entitlements WHERE owner_id = :o")

    def bare() -> None:
        with engine.connect() as conn:
            conn.execute(query, {"o": OWNER}).all()

    n = 300 if QUICK else 3000
    base, measured = interleaved(bare, lambda: billing.has_feature(OWNER, "export"), samples=n,
                                 before=lambda: entries.pop(OWNER, None))
    return report(f"3. database miss on {label} (no local entry, no Redis)", "µs",
                  "bare SELECT of the owner's grant rows", base, measured)


def main() -> None:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        from billingos.billing import _make_engine
        sqlite = _make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        make_billing(sqlite).migrate()
        seeded = make_billing(sqlite)
        seed(seeded)
        results["in_process"] = in_process(seeded)
        results["redis_hit"] = redis_hit(sqlite)
        results["db_miss_sqlite"] = db_miss(sqlite, "SQLite")
        schema = f"billingos_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as e:
            print(f"3. database miss on PostgreSQL: skipped ({type(e).__name__})")
        else:
            pg = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
            try:
                make_billing(pg).migrate()
                seed(make_billing(pg))
                results["db_miss_postgres"] = db_miss(pg, "PostgreSQL")
            finally:
                pg.dispose()
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    hit = results["in_process"]
    print("\nTargets: in-process hit p50 < 2 µs and within 10x a dict lookup; Redis hit within 1.5x a GET")
    print(f"  in-process p50 {hit['p50']:.0f} ns ({'ok' if hit['p50'] < 2000 else 'MISSED'}), "
          f"{hit['ratio_p50']:.2f}x dict ({'ok' if hit['ratio_p50'] <= 10 else 'MISSED'})")
    if results["redis_hit"]:
        r = results["redis_hit"]["ratio_p50"]
        print(f"  Redis hit p50 {r:.2f}x GET ({'ok' if r <= 1.5 else 'MISSED'})")
    print(json.dumps({k: v for k, v in results.items() if v}, default=lambda x: round(x, 3)))


if __name__ == "__main__":
    main()
