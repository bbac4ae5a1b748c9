"""The portal's overview and invoices pages for a customer with 100 invoices, in process through each
adapter's test client. Target (issue 10): p95 within 3x the baseline, and no N+1 queries.

    .venv/bin/python bench/pages.py [--requests 300]

The baseline is "the same template rendered with precomputed data", measured the way a request is: a bare
route of the same framework, mounted in the same app and called through the same test client, that renders
the page's template with the data its page function returned once (no queries, no Stripe, no CSRF
cookie). So the framework's own cost (FastAPI's TestClient alone is ~20x a bare template render) is in both
the page and its baseline, and the ratio is what billingos adds on top: its queries, the Stripe preview
(or its cache), the CSRF token, building the page's data. Page and baseline requests alternate, so both see
the same machine load.

Also printed, as extra information: the template rendered alone in process (no framework at all); the CPU
time of the process per request (p50, page and baseline), which a loaded machine distorts far less than
wall-clock percentiles; and the SQL statements each page sends (they must not grow with the number of
invoices; tests/portal pin them).

SQLite file database, the in-process Stripe emulator.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from bench._common import figure
from billingos import Billing
from billingos.pages import Incoming, environment, mount_pages
from billingos.stripe_api import plain

OWNER = "org_bench"
INVOICES = 100
PAGES = {"overview": "/billing/portal/", "invoices": "/billing/portal/invoices"}
Get = Callable[[str], Any]


def world(db: Path) -> Billing:
    """A customer with a card, a live subscription and 100 invoices (copies of a real one, via the sync)."""
    billing = Billing(database_url=f"sqlite:///{db}", stripe_emulator=True,
                      webhook_secrets=["whsec_bench_0123456789abcdef"])
    billing.migrate()
    sc = billing.stripe.v1
    product = sc.products.create(params={"name": "Pro"})
    sc.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 3000,
                             "lookup_key": "pro_monthly", "recurring": {"interval": "month"}})
    billing.testing.connect()
    billing.testing.drain()
    customer = billing.customers.create(owner_id=OWNER, email="bench@example.com", name="Bench")
    pm = sc.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    billing.customers.update(OWNER, default_payment_method=pm.id)
    billing.payment_methods.sync(pm)
    billing.subscriptions.create(customer, price="pro_monthly")
    real = plain(sc.invoices.retrieve(billing.invoices.list(OWNER)[0].id))
    with billing.transaction() as session:
        for i in range(INVOICES - 1):
            obj = copy.deepcopy(real)
            obj.update(id=f"in_bench{i:04d}", number=f"BENCH-{i:04d}", created=real["created"] - 86400 * 30 * (i + 1))
            billing.invoices.apply(session, obj)
    assert len(billing.invoices.list(OWNER, limit=INVOICES)) == INVOICES
    return billing


def precomputed(billing: Billing) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each page's template name and the complete context it is rendered with (the page function's data
    plus what ``Pages.render`` adds), captured once from a real request."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    pages = mount_pages(billing, prefix="/billing", secret_key="bench-secret",
                        render=lambda name, ctx: seen.__setitem__("last", (name, ctx)) or "")
    out = {}
    for name, path in PAGES.items():
        route = next(r for r in pages.routes.values() if r.path == path.removeprefix("/billing"))
        assert pages.handle(route.name, Incoming(method="GET", owner_id=OWNER)).status == 200
        out[name] = seen.pop("last")
    return out


def flask_clients(billing: Billing, data: dict[str, tuple[str, dict[str, Any]]]) -> tuple[Get, Get]:
    from flask import Flask, Response, render_template

    from billingos_flask import BillingOS
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "bench-secret"
    BillingOS(app, billing=billing).customer_loader(lambda: OWNER)

    def bare(page: str) -> Response:          # the baseline: Flask's render_template, the data precomputed
        template, context = data[page]
        return Response(render_template(template, **context), content_type="text/html; charset=utf-8")

    app.add_url_rule("/bare/<page>", "bare", bare)
    client = app.test_client()
    return (lambda path: client.get(path)), (lambda page: client.get(f"/bare/{page}"))


def fastapi_clients(billing: Billing, data: dict[str, tuple[str, dict[str, Any]]]) -> tuple[Get, Get]:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient

    from billingos_fastapi import create_router

    def owner() -> str:
        return OWNER
    app = FastAPI()
    app.include_router(create_router(billing, customer_loader=owner, secret_key="bench-secret"))
    env = environment()                       # what create_router renders with

    @app.get("/bare/{page}")
    def bare(page: str) -> HTMLResponse:      # sync: the thread pool, as the page's work runs
        template, context = data[page]
        return HTMLResponse(env.get_template(template).render(context))

    client = TestClient(app)
    return (lambda path: client.get(path)), (lambda page: client.get(f"/bare/{page}"))


def quantiles(samples: list[int]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] / 1e6, q[94] / 1e6


def alternate(page: Callable[[], Any], base: Callable[[], Any], n: int) -> dict[str, list[int]]:
    """``n`` timings of each, interleaved so that both see the same machine load: wall clock, and the CPU
    time of this process (all its threads), which other work on a shared machine moves much less."""
    for _ in range(max(20, n // 10)):         # warm both: pools, caches, the allocator
        page(), base()
    out: dict[str, list[int]] = {"page": [], "base": [], "page cpu": [], "base cpu": []}
    for _ in range(n):
        for fn, kind in ((page, "page"), (base, "base")):
            start, cpu = time.perf_counter_ns(), time.process_time_ns()
            fn()
            out[f"{kind} cpu"].append(time.process_time_ns() - cpu)
            out[kind].append(time.perf_counter_ns() - start)
    return out


def statements(billing: Billing, get: Get, path: str) -> int:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])
    event.listen(billing.engine, "before_cursor_execute", count)
    try:
        assert get(path).status_code == 200
    finally:
        event.remove(billing.engine, "before_cursor_execute", count)
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    n = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as tmp:
        billing = world(Path(tmp) / "bench.db")
        data = precomputed(billing)
        env = environment()
        clients = {"flask": flask_clients(billing, data), "fastapi": fastapi_clients(billing, data)}
        print(f"{INVOICES} invoices; {n} requests per row, page and baseline alternating; times in ms")
        print("baseline = a bare route of the same framework rendering the same template with precomputed data")
        print(f"{'page':<10}{'adapter':<9}{'SQL':>5}{'p50':>8}{'p95':>8}{'base p50':>10}{'base p95':>10}"
              f"{'ratio':>7}{'render p95':>12}{'cpu p50':>9}{'base cpu':>9}{'cpu ratio':>10}")
        worst = 0.0
        for name, path in PAGES.items():
            template, context = data[name]
            render = [0] * n
            for i in range(n):
                start = time.perf_counter_ns()
                env.get_template(template).render(context)
                render[i] = time.perf_counter_ns() - start
            _, r95 = quantiles(render)
            for kind, (get, bare) in clients.items():
                assert get(path).status_code == 200 and bare(name).status_code == 200
                sql = statements(billing, get, path)
                t = alternate(lambda get=get, path=path: get(path), lambda bare=bare, name=name: bare(name), n)
                (m50, m95), (b50, b95) = quantiles(t["page"]), quantiles(t["base"])
                (c50, _), (cb50, _) = quantiles(t["page cpu"]), quantiles(t["base cpu"])
                worst = max(worst, m95 / b95)
                print(f"{name:<10}{kind:<9}{sql:>5}{m50:>8.2f}{m95:>8.2f}{b50:>10.2f}{b95:>10.2f}"
                      f"{m95 / b95:>7.2f}{r95:>12.3f}{c50:>9.2f}{cb50:>9.2f}{c50 / cb50:>10.2f}")
                section = f"{kind}, SQLite, {INVOICES} invoices"
                met = "met" if m95 <= 3 * b95 else "MISSED"
                figure("pages", section, f"{name} page p95 (<= 3x baseline, target {met})", m95, "ms",
                       baseline="bare route, same template and precomputed data, p95", baseline_value=b95,
                       note=f"{sql} SQL statements per page")
                figure("pages", section, f"{name} page CPU time p50 (load-independent view)", c50, "ms",
                       baseline="bare route CPU time p50", baseline_value=cb50)
                figure("pages", section, f"{name} page p95 against the template render alone", m95, "ms",
                       baseline="the template rendered in process, no framework, p95", baseline_value=r95)
        print(f"worst p95 ratio {worst:.2f} (target <= 3)")
        billing.close()


if __name__ == "__main__":
    main()
