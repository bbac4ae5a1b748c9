"""The portal's overview and invoices pages for a customer with 100 invoices, in-process through each
adapter's test client, against the same template rendered with precomputed data (the baseline) in the same
run. Target: p95 within 3x the baseline. SQLite file database, the in-process emulator.

    .venv/bin/python bench/pages.py [--requests 200]
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

from bench._common import figure
from billingos import Billing
from billingos.pages import Incoming, environment, mount_pages
from billingos.stripe_api import plain

OWNER = "org_bench"
PAGES = {"overview": "/billing/portal/", "invoices": "/billing/portal/invoices"}


def world(db: Path) -> Billing:
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
        for i in range(99):
            obj = copy.deepcopy(real)
            obj.update(id=f"in_bench{i:04d}", number=f"BENCH-{i:04d}", created=real["created"] - 86400 * 30 * (i + 1))
            billing.invoices.apply(session, obj)
    assert len(billing.invoices.list(OWNER, limit=100)) == 100
    return billing


def flask_get(billing: Billing) -> Callable[[str], Any]:
    from flask import Flask

    from billingos_flask import BillingOS
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "bench-secret"
    BillingOS(app, billing=billing).customer_loader(lambda: OWNER)
    client = app.test_client()
    return lambda path: client.get(path)


def fastapi_get(billing: Billing) -> Callable[[str], Any]:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from billingos_fastapi import create_router

    def owner() -> str:
        return OWNER
    app = FastAPI()
    app.include_router(create_router(billing, customer_loader=owner, secret_key="bench-secret"))
    client = TestClient(app)
    return lambda path: client.get(path)


def baseline(billing: Billing) -> dict[str, Callable[[], str]]:
    """Each page's template rendered with the data its page function returned once (no queries, no Stripe)."""
    env = environment()
    pages = mount_pages(billing, prefix="/billing", render=lambda n, c: env.get_template(n).render(c),
                        secret_key="bench-secret")
    out = {}
    for name, path in PAGES.items():
        route = next(r for r in pages.routes.values() if r.path == path.removeprefix("/billing"))
        from billingos.pages.core import PageContext
        ctx = PageContext(pages, Incoming(method="GET", owner_id=OWNER), {}, "token")
        result = route.page(ctx)
        out[name] = lambda ctx=ctx, result=result: pages.render(ctx, result).body
    return out


def p95(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] / 1e6, q[94] / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    n = parser.parse_args().requests
    with tempfile.TemporaryDirectory() as tmp:
        billing = world(Path(tmp) / "bench.db")
        base = baseline(billing)
        clients = {"flask": flask_get(billing), "fastapi": fastapi_get(billing)}
        print(f"{n} requests per row; times in ms (p50 / p95); ratio = p95 / baseline p95")
        print(f"{'page':<10}{'adapter':<10}{'p50':>10}{'p95':>10}{'base p95':>10}{'ratio':>8}")
        worst = 0.0
        for name, path in PAGES.items():
            b50, b95 = p95(base[name], n)
            print(f"{name:<10}{'baseline':<10}{b50:>10.2f}{b95:>10.2f}{b95:>10.2f}{1:>8.2f}")
            for kind, get in clients.items():
                assert get(path).status_code == 200
                m50, m95 = p95(lambda get=get, path=path: get(path), n)
                worst = max(worst, m95 / b95)
                print(f"{name:<10}{kind:<10}{m50:>10.2f}{m95:>10.2f}{b95:>10.2f}{m95 / b95:>8.2f}")
                figure("pages", kind, f"{name} page p95 (100 invoices)", m95, "ms",
                       baseline="same template, precomputed data p95", baseline_value=b95)
        print(f"worst p95 ratio {worst:.2f} (target <= 3)")
        billing.close()


if __name__ == "__main__":
    main()
