"""Revenue analytics on PostgreSQL: 100,000 customers and 24 months of generated ledger, loaded with COPY.

    .venv/bin/python bench/analytics.py [--customers 100000] [--months 24]

Measured (median of 3 after a warm-up), each against a raw GROUP BY over the same ledger in the same run:

- the full movements report (new, expansion, contraction, churn, reactivation, FX) by month: target < 2 s;
  baseline ``SELECT customer, month, SUM(delta) ... GROUP BY customer, month`` (the per-customer change per
  month, which any movements report must compute first);
- ``mrr(at=...)``: target < 100 ms; baseline ``SELECT currency, SUM(delta) WHERE effective_at <= t GROUP BY
  currency``;
- the cohort matrix (NRR, GRR per monthly cohort): target < 2 s; baseline ``SELECT customer,
  MIN(effective_at) ... GROUP BY customer`` (each customer's cohort);
- the admin analytics page's report for its default range (the last 12 months: key figures against the
  previous 12, every chart's series, the cohort heat map, the top customers; what the page renders, without
  the HTTP round trip): target < 5 s; baseline the raw ``GROUP BY customer, month`` again.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench._common import figure, postgres_schema, row
from billingos import Billing, FrozenClock

COLUMNS = ("subscription_stripe_id", "customer_stripe_id", "owner_id", "effective_at", "rank", "mrr_before",
           "mrr_after", "currency", "status_before", "status_after", "cause", "source", "stripe_event_id",
           "detail", "recorded_at")
BASELINES = ("raw GROUP BY customer, month", "raw SUM WHERE effective_at <= t", "raw GROUP BY customer (MIN)",
             "raw GROUP BY customer, month")
PLANS = [1000, 2900, 4900, 9900, 5000, 25000]          # monthly cents (5000: $600 a year)


def generate(customers: int, months: int, start: datetime, seed: int = 7) -> tuple[io.StringIO, int]:
    """A tab-separated ledger: each customer starts in a random month, then each month may expand,
    contract, churn, or (once churned) come back."""
    rng = random.Random(seed)
    out, rows = io.StringIO(), 0
    for c in range(customers):
        first = rng.randrange(months)
        level, sub, paying = rng.choice(PLANS), f"sub_b{c}", True
        at = start + timedelta(days=30 * first, seconds=rng.randrange(86400 * 28))
        lines = [(at, 0, level, None, "active", "new")]
        for m in range(first + 1, months):
            at = start + timedelta(days=30 * m, seconds=rng.randrange(86400 * 28))
            r = rng.random()
            if paying and r < 0.025:
                lines.append((at, level, 0, "active", "canceled", "canceled"))
                paying, level = False, 0
            elif paying and r < 0.055:
                new = level + rng.choice(PLANS)
                lines.append((at, level, new, "active", "active", "upgrade"))
                level = new
            elif paying and r < 0.075 and level > 1000:
                new = level // 2
                lines.append((at, level, new, "active", "active", "downgrade"))
                level = new
            elif not paying and r < 0.05:
                level, paying = rng.choice(PLANS), True
                lines.append((at, 0, level, "canceled", "active", "new"))
        for at, before, after, s_before, s_after, cause in lines:
            out.write("\t".join((sub, f"cus_b{c}", f"org_{c}", at.isoformat(), "20", str(before), str(after), "usd",
                                 s_before or r"\N", s_after, cause, "bench", r"\N", "{}", at.isoformat())) + "\n")
            rows += 1
    out.seek(0)
    return out, rows


def load(engine: Engine, data: io.StringIO) -> float:
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:    # type: ignore[attr-defined]
            with cur.copy(f"COPY billing_subscription_ledger ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
            cur.execute("ANALYZE billing_subscription_ledger")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def median_time(fn: Callable[[], Any], runs: int = 3) -> float:
    fn()                                        # warm-up (plans, caches)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def raw(engine: Engine, sql: str, **params: Any) -> Callable[[], Any]:
    def run() -> Any:
        with engine.connect() as c:
            c.execute(text("SET jit = off"))        # as billingos's reports run: a fair baseline
            return c.execute(text(sql), params).all()
    return run


def page_report(billing: Billing) -> Any:
    """What the admin analytics page computes for its default range (the last 12 months)."""
    from billingos.pages.admin.analytics import build, resolve
    return build(billing.analytics, resolve({}, billing.clock.now().date()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    args = ap.parse_args()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end_day = date(2024, 1, 1) + timedelta(days=30 * args.months + 30)
    with postgres_schema() as engine:
        if engine is None:
            print("PostgreSQL is not reachable: this benchmark needs it.")
            return
        billing = Billing(engine=engine, stripe_emulator=True,
                          clock=FrozenClock(datetime.combine(end_day, datetime.min.time(), UTC)))
        billing.migrate()
        data, rows = generate(args.customers, args.months, start)
        seconds = load(engine, data)
        print(f"ledger: {rows:,} rows for {args.customers:,} customers over {args.months} months, "
              f"COPY + ANALYZE in {seconds:.1f} s")
        a = billing.analytics
        months = [(date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=31 * args.months))]
        first, last = months[0][0].replace(day=1), (months[0][1]).replace(day=1)
        mid = datetime(2025, 1, 15, tzinfo=UTC)
        report = a.movements(first, last)
        for m in report[1:]:
            assert m.mrr_end - m.mrr_start == m.net_new + m.fx
        print(f"movements: {len(report)} months, MRR at the end {report[-1].mrr_end}; "
              f"mrr(at=2025-01-15) = {a.mrr(at=mid)}")
        cases = [
            ("movements, 24 months (< 2 s)", lambda: a.movements(first, last),
             raw(engine, "SELECT customer_stripe_id, date_trunc('month', effective_at), "
                         "SUM(mrr_after - mrr_before) FROM billing_subscription_ledger "
                         "GROUP BY 1, 2"), 2.0),
            ("mrr(at=...) (< 100 ms)", lambda: a.mrr(at=mid),
             raw(engine, "SELECT currency, SUM(mrr_after - mrr_before) FROM billing_subscription_ledger "
                         "WHERE effective_at <= :t GROUP BY currency", t=mid), 0.1),
            ("cohort matrix, 24 months (< 2 s)", lambda: a.cohorts(first, last),
             raw(engine, "SELECT customer_stripe_id, MIN(effective_at) FROM billing_subscription_ledger "
                         "WHERE mrr_after > 0 GROUP BY customer_stripe_id"), 2.0),
            ("analytics page, 12 months (< 5 s)", lambda: page_report(billing),
             raw(engine, "SELECT customer_stripe_id, date_trunc('month', effective_at), "
                         "SUM(mrr_after - mrr_before) FROM billing_subscription_ledger "
                         "GROUP BY 1, 2"), 5.0),
        ]
        print(row("", "billingos", "raw GROUP BY", "ratio", "target"))
        section = f"PostgreSQL, {args.customers:,} customers, {rows:,} ledger rows"
        for (label, measure, baseline, target), base_label in zip(cases, BASELINES, strict=True):
            ours, base = median_time(measure), median_time(baseline)
            verdict = "met" if ours < target else "MISSED"
            print(row(label, f"{ours * 1000:,.0f} ms", f"{base * 1000:,.0f} ms", f"{ours / base:.1f}x",
                      f"{verdict}"))
            figure("analytics", section, label, ours * 1000, "ms", baseline=base_label, baseline_value=base * 1000,
                   note=f"target {verdict}")
        billing.close()


if __name__ == "__main__":
    main()
