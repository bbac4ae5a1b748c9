"""The example app's first-start seed: ``example_app.seed.seed_history`` (1,500 customers over 18 months, through
the emulator's clock and billingos's sync) on SQLite, the example's database. Target: under 60 s on 2 cores.

    .venv/bin/python bench/seed.py [--customers 1500] [--months 18] [--seed 7]

Prints the total and each phase (``SeedReport.breakdown``). The baseline, in the same run: the raw time to
write as many rows as the seed left in billingos's tables, with one ``executemany`` INSERT of rows of the same
width (text columns of the tables' average row size) into a scratch table of another SQLite file in WAL mode,
committed every 1,000 rows. The ratio says how far the seed is from only writing its result.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, inspect, text

from bench._common import figure, row
from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from example_app.catalog import CATALOG_PATH, sync_catalog
from example_app.seed import seed_history

SECRET = "whsec_bench_seed_0123456789"


def table_rows(db: Path) -> tuple[int, int]:
    """Rows in billingos's tables after the seed, and their average width in bytes (SQLite's dbstat-free
    estimate: file size over rows)."""
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        names = [t for t in inspect(c).get_table_names() if t.startswith("billing")]
        rows = sum(int(c.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar() or 0) for t in names)
    engine.dispose()
    size = db.stat().st_size + (db.with_name(db.name + "-wal").stat().st_size
                                if db.with_name(db.name + "-wal").exists() else 0)
    return rows, max(16, size // max(rows, 1))


def raw_inserts(folder: Path, rows: int, width: int) -> float:
    engine = create_engine(f"sqlite:///{folder / 'raw.db'}")
    with engine.begin() as c:
        c.execute(text("PRAGMA journal_mode=WAL"))
        c.execute(text("CREATE TABLE raw (id INTEGER PRIMARY KEY, k TEXT UNIQUE, a TEXT, b TEXT)"))
    half = "x" * (width // 2)
    start = time.perf_counter()
    with engine.connect() as c:
        c.execute(text("PRAGMA synchronous=NORMAL"))
        for lo in range(0, rows, 1000):
            c.execute(text("INSERT INTO raw (k, a, b) VALUES (:k, :a, :b)"),
                      [{"k": f"key_{i}", "a": half, "b": half} for i in range(lo, min(rows, lo + 1000))])
            c.commit()
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=1500)
    p.add_argument("--months", type=int, default=18)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "example.db"
        clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
        billing = Billing(database_url=f"sqlite:///{db}", emulator=Emulator(clock=clock), clock=clock,
                          webhook_secrets=[SECRET])
        billing.migrate()
        sync_catalog(billing, CATALOG_PATH)
        billing.testing.connect()
        billing.testing.drain()
        cpu = time.process_time()
        report = seed_history(billing, customers=args.customers, months=args.months, seed=args.seed,
                              progress=args.progress)
        cpu = time.process_time() - cpu
        try:     # not timed: what the example's insights page will show (the model trained on the seed)
            auc: float | None = billing.insights.train_churn_model().roc_auc
        except Exception as e:   # e.g. InsufficientDataError on a small --customers
            print(f"churn model: {e}")
            auc = None
        billing.close()
        rows, width = table_rows(db)
        raw = raw_inserts(folder, rows, width)
    section = f"SQLite, {args.customers:,} customers x {args.months} months ({os.cpu_count()} cores)"
    print(section)
    print(row("phase", "seconds", "share"))
    for phase, seconds in sorted(report.breakdown.items(), key=lambda kv: -kv[1]):
        print(row(phase[:40], f"{seconds:.2f}", f"{seconds / report.seconds:.0%}"))
    print(row("total", f"{report.seconds:.2f}", "100%"))
    print(row("CPU time of this process", f"{cpu:.2f}", f"{cpu / report.seconds:.0%}"))
    print(row(f"raw INSERT of {rows:,} rows ({width} B)", f"{raw:.2f}", f"x{report.seconds / raw:.0f}"))
    if auc is not None:
        print(f"churn model trained on the seeded history: holdout ROC AUC {auc:.3f}")
    figure("seed", section, "seed_history total", report.seconds, "s",
           baseline=f"raw executemany INSERT of the same {rows:,} rows", baseline_value=raw,
           note=f"target < 60 s on 2 cores; {cpu:.0f} s of it on this process's CPU")
    for phase, seconds in report.breakdown.items():
        figure("seed", section, f"phase: {phase}", seconds, "s",
               baseline=f"raw executemany INSERT of the same {rows:,} rows", baseline_value=raw)


if __name__ == "__main__":
    main()
