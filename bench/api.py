"""The JSON API's hot path: ``GET {prefix}/api/v1/entitlements/check`` through each adapter, in process.

    .venv/bin/python bench/api.py [--quick]

Each request is authenticated by API key (a SHA-256 and a constant-time compare against the stored row)
and counted by the rate limiter on Redis (the ``limits`` package; in memory when Redis is not
reachable, said in the output). The baseline is a bare route of the same framework, mounted in the same
app, returning the same JSON body, called through the same test client. Requests of the two kinds
alternate, so both see the same machine load. Target: p95 within 2x of the bare route.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import figure
from billingos import Billing

REDIS_URL = os.environ.get("BILLINGOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
QUICK = "--quick" in sys.argv
N = 300 if QUICK else 3000
OWNER = "org_bench"
CATALOG = {"features": [{"key": "export", "name": "Export", "type": "boolean"}],
           "products": [{"key": "pro", "name": "Pro", "features": [{"key": "export"}],
                         "prices": [{"lookup_key": "pro_monthly", "currency": "usd", "unit_amount": 2000,
                                     "interval": "month"}]}]}


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def _billing(tmp: Path) -> tuple[Billing, str, str]:
    redis = REDIS_URL if _redis_up() else None
    billing = Billing(database_url=f"sqlite:///{tmp / 'bench.db'}", stripe_emulator=True, redis_url=redis,
                      api_rate_limits={"entitlements:read": "100000000/minute"})
    billing.migrate()
    from billingos.catalog.schemas import Catalog
    billing.catalog.sync(Catalog.model_validate(CATALOG))
    billing.customers.create(owner_id=OWNER, email="bench@example.com")
    billing.entitlements.grant(OWNER, "export")
    secret = billing.api_keys.create("bench", ["entitlements:read"], owner_id=OWNER).secret
    return billing, secret, billing.api.limiter.storage_uri


def _flask(billing: Billing, body: bytes) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], Any]]:
    from flask import Flask, Response

    from billingos_flask import BillingOS
    app = Flask(__name__)
    BillingOS(app, billing=billing)
    app.add_url_rule("/bare", "bare", lambda: Response(body, content_type="application/json"))
    client = app.test_client()
    return client, (lambda: client.get("/bare")), (lambda: None)


def _fastapi(billing: Billing, body: bytes) -> tuple[Any, Callable[[], Any], Callable[[], Any]]:
    from fastapi import FastAPI, Response
    from fastapi.testclient import TestClient

    from billingos_fastapi import create_router
    app = FastAPI()
    app.include_router(create_router(billing))

    @app.get("/bare")
    def bare() -> Response:        # sync, like the API's database work, which runs in the thread pool
        return Response(body, media_type="application/json")

    client = TestClient(app)
    client.__enter__()
    return client, (lambda: client.get("/bare")), client.close


def _p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1e6


def run(kind: str, billing: Billing, secret: str) -> tuple[float, float, float, float]:
    url = "/billing/api/v1/entitlements/check?feature=export"
    headers = {"Authorization": f"Bearer {secret}"}
    probe = billing.api.handle(__import__("billingos.api", fromlist=["ApiRequest"]).ApiRequest(
        "GET", "entitlements/check", {"feature": "export"}, {"authorization": f"Bearer {secret}"}))
    body = probe.body
    client, bare, close = (_flask if kind == "flask" else _fastapi)(billing, body)
    api: Callable[[], Any] = lambda: client.get(url, headers=headers)  # noqa: E731
    first = api()
    assert first.status_code == 200 and (first.data if kind == "flask" else first.content) == body
    assert (bare().data if kind == "flask" else bare().content) == body
    for _ in range(200):        # warm both paths (caches, pools, JIT-free but allocator-warm)
        api(), bare()
    t_api, t_bare = [], []
    for _ in range(N):
        for fn, out in ((api, t_api), (bare, t_bare)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    close()
    return _p(t_api, 50), _p(t_api, 95), _p(t_bare, 50), _p(t_bare, 95)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        billing, secret, storage = _billing(Path(tmp))
        print(f"GET entitlements/check, {N} requests each, SQLite database, rate limit storage: {storage}")
        print(f"{'adapter':<10}{'api p50 µs':>12}{'api p95 µs':>12}{'bare p50 µs':>13}{'bare p95 µs':>13}"
              f"{'p95 ratio':>11}")
        for kind in ("flask", "fastapi"):
            a50, a95, b50, b95 = run(kind, billing, secret)
            print(f"{kind:<10}{a50:>12.0f}{a95:>12.0f}{b50:>13.0f}{b95:>13.0f}{a95 / b95:>10.2f}x")
            section = f"{kind}, SQLite, rate limits on {storage}"
            for q, api, bare in (("p50", a50, b50), ("p95", a95, b95)):
                figure("api", section, f"GET entitlements/check {q} (API key + rate limit)", api, "µs",
                       baseline=f"bare route {q}", baseline_value=bare)
        billing.close()


if __name__ == "__main__":
    main()
