"""Shared helpers for the benchmark scripts: timing, percentiles, database targets, and ``figure()``, the
machine-readable line each result is also printed as (``tools/bench_report.py`` turns them into
docs/performance.md)."""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

PG_URL = os.environ.get("BILLINGOS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    """p50 and p99 in microseconds."""
    q = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return q[49] / 1000, q[98] / 1000


@contextmanager
def postgres_schema() -> Iterator[Engine | None]:
    """A throwaway schema on the local PostgreSQL, or None when it is not reachable."""
    try:
        admin = create_engine(PG_URL)
        with admin.begin() as c:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception:
        yield None
        return
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def row(label: str, *cells: Any) -> str:
    return f"{label:<40}" + "".join(f"{c!s:>16}" for c in cells)


#: Marks a result line on stdout; the rest of the line is one JSON object.
FIGURE_PREFIX = "BENCH_FIGURE "


def figure(bench: str, section: str, name: str, value: float, unit: str, *, baseline: str | None = None,
           baseline_value: float | None = None, ratio: float | None = None, note: str | None = None) -> None:
    """Print one figure for the report: ``value`` (in ``unit``) of ``name``, with the baseline it was measured
    against in the same run. ``ratio`` defaults to value / baseline_value."""
    if ratio is None and baseline_value:
        ratio = value / baseline_value
    record = {"bench": bench, "section": section, "name": name, "value": value, "unit": unit,
              "baseline": baseline, "baseline_value": baseline_value, "ratio": ratio, "note": note}
    print(FIGURE_PREFIX + json.dumps(record), flush=True)
