"""The admin customer list on PostgreSQL with 100,000 customers: searched by email prefix and paged deep.

    .venv/bin/python bench/admin.py [--customers 100000] [--rounds 200]

Measured in process, per request: ``billing.admin.customers(...)`` (the query and its page of rows with
their current subscriptions), and the whole admin page (``Pages.handle``: access check, CSRF cookie, the
queries, the Jinja2 render). Baseline in the same run: the statement that depends on an index
(``customer_query_sql``: for an email or name prefix, the query of the matching ids from the prefix indexes;
otherwise the page's SELECT, LIMIT 51), sent raw through the same engine (no ORM objects, no subscriptions,
no page). Target (issue 12): the page's p95 under 50 ms, its plan on an index (tests/admin/test_search_plan.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench._common import figure, postgres_schema, row
from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from billingos.pages import Incoming, environment, mount_pages
from billingos.validation import page_cursor

SEED = """
INSERT INTO billing_customers (stripe_id, owner_id, email, name, currency, balance, delinquent, livemode,
                               metadata, data, synced_at, version)
SELECT 'cus_bench' || lpad(n::text, 8, '0'), 'org_' || n, 'user' || n || '@' || (ARRAY['acme.io', 'Example.com',
       'mail.test', 'corp.org'])[1 + n % 4], 'Customer ' || n, 'usd', 0, n % 50 = 0, false, '{}'::jsonb,
       '{}'::jsonb, now(), 1
FROM generate_series(1, :n) AS n
"""


def seed_customers(engine: Engine, n: int) -> None:
    """``n`` customers straight into the table (what a large host has), then VACUUM ANALYZE, as autovacuum
    leaves a table at rest: real plans, and a visibility map that lets index-only scans skip the heap."""
    with engine.begin() as c:
        c.execute(text(SEED), {"n": n})
    with engine.connect() as c:
        c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE billing_customers"))


def explain(engine: Engine, stmt: Any) -> str:
    compiled = stmt.compile(dialect=engine.dialect)
    with engine.connect() as c:
        return "\n".join(r[0] for r in c.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params))


def p50_p95(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    q = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples), q[18]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with postgres_schema() as engine:
        if engine is None:
            print("PostgreSQL is not reachable: nothing measured.")
            return
        clock = FrozenClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
        billing = Billing(engine=engine, emulator=Emulator(clock=clock), clock=clock)
        billing.migrate()
        started = time.perf_counter()
        seed_customers(engine, args.customers)
        print(f"seeded {args.customers:,} customers in {time.perf_counter() - started:.1f}s")
        env = environment()
        pages = mount_pages(billing, prefix="/billing", secret_key="bench-secret-key-0123456789",
                            render=lambda name, ctx: env.get_template(name).render(ctx))
        deep = billing.admin.customers(limit=1, after=None).items[0].customer
        # a cursor 90% of the way down the list: keyset paging makes it cost what page one does
        with engine.connect() as c:
            deep_id = c.execute(text("SELECT id FROM billing_customers ORDER BY id DESC OFFSET :o LIMIT 1"),
                                {"o": args.customers * 9 // 10}).scalar_one()
        cursor = page_cursor("a", deep_id)            # the admin list's keyset cursor (validation.page_cursor)
        cases = {"email prefix 'user12'": {"search": "user12"},
                 "email prefix 'user4242@'": {"search": "user4242@"},
                 "name prefix 'customer 99'": {"search": "customer 99"},
                 "deep page (90%)": {"after": cursor},
                 "email prefix, deep page": {"search": "user1", "after": cursor}}
        print(row("case", "raw p95 ms", "service p95", "page p50", "page p95", "page/raw"))
        for label, query in cases.items():
            compiled = billing.admin.customer_query_sql(**query, limit=51).compile(dialect=engine.dialect)

            def raw(sql: str = str(compiled), values: dict[str, Any] = compiled.params) -> None:
                with engine.connect() as c:
                    c.exec_driver_sql(sql, values).fetchall()

            def service(query: dict[str, Any] = query) -> None:
                billing.admin.customers(**query)

            params = {("q" if k == "search" else k): v for k, v in query.items()}

            def page(params: dict[str, str] = params) -> None:
                out = pages.handle("admin.customers", Incoming(method="GET", query=params, admin="bench"))
                assert out.status == 200, out.body[:300]

            for fn in (raw, service, page):
                fn()                                               # warm the pool and the caches
            _, raw_p95 = p50_p95(raw, args.rounds)
            _, svc_p95 = p50_p95(service, args.rounds)
            page_p50, page_p95 = p50_p95(page, args.rounds)
            print(row(label, f"{raw_p95:.2f}", f"{svc_p95:.2f}", f"{page_p50:.2f}", f"{page_p95:.2f}",
                      f"{page_p95 / raw_p95:.1f}x"))
            section = f"PostgreSQL, {args.customers:,} customers: {label}"
            figure("admin", section, "billing.admin.customers p95", svc_p95, "ms",
                   baseline="the same SELECT sent raw, p95", baseline_value=raw_p95)
            met = "met" if page_p95 < 50 else "MISSED"
            figure("admin", section, f"the whole customers page p95 (< 50 ms, target {met})", page_p95, "ms",
                   baseline="the same SELECT sent raw, p95", baseline_value=raw_p95)
        print("\nplan of the email prefix search (deep page):")
        print(explain(engine, billing.admin.customer_query_sql(search="user1", after=cursor)))
        assert deep.id
        billing.close()


if __name__ == "__main__":
    main()
