"""billingos.js in a real browser against both adapters: each app served by a real server thread on
127.0.0.1 (werkzeug for Flask, uvicorn for FastAPI), Debian's Chromium driven by Playwright (never
downloaded). The page imports the module from the adapter's own route, so nothing leaves the app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billingos import Billing
from tests.browser.kit import need_browser, open_tab, serve_asgi, serve_wsgi

from .conftest import World, build_world

PAGE = (b"<!doctype html><html lang=en><head><meta charset=utf-8><title>host app</title>"
        b"<link rel=icon href='data:,'></head><body>host</body></html>")

SCRIPT = """async ([apiKey, wrongKey]) => {
  const { createClient, BillingOSError } = await import("/billing/api/v1/billingos.js");
  const billing = createClient({ apiKey });
  const out = {};
  out.hasExport = await billing.hasFeature("export");
  out.hasTeleport = await billing.hasFeature("teleport");
  out.check = await billing.check("api_calls", { amount: 10 });
  out.first = await billing.trackUsage("api_calls", 3, { idempotencyKey: "js-1" });
  out.again = await billing.trackUsage("api_calls", 3, { idempotencyKey: "js-1" });
  out.batch = await billing.trackUsage([{ meter: "api_calls", value: 2 }, { meter: "api_calls", value: 4 }]);
  out.subscription = await billing.getSubscription();
  out.invoices = await billing.listInvoices({ limit: 5 });
  try { await createClient({ apiKey: wrongKey }).check("export"); out.error = "none"; }
  catch (e) { out.error = [e instanceof BillingOSError, e.status, e.problem.type]; }
  return out;
}"""


def _flask_app(billing: Billing) -> Any:
    from flask import Flask

    from billingos_flask import BillingOS
    app = Flask(__name__)
    BillingOS(app, billing=billing)
    app.add_url_rule("/", "home", lambda: (PAGE, 200, {"Content-Type": "text/html; charset=utf-8"}))
    return app


def _fastapi_app(billing: Billing) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from billingos_fastapi import create_router
    app = FastAPI()
    app.include_router(create_router(billing))
    app.add_api_route("/", lambda: HTMLResponse(PAGE), methods=["GET"])
    return app


@pytest.fixture
def world(sqlite_engine, emulator, clock) -> Iterator[World]:  # type: ignore[no-untyped-def]
    need_browser()
    billing = Billing(engine=sqlite_engine, emulator=emulator, clock=clock)
    yield build_world(billing)
    billing.close()


@pytest.mark.parametrize("kind", ["flask", "fastapi"])
def test_billingos_js_against_a_real_server(world: World, kind: str) -> None:
    key = world.keys["a"]
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    serve = serve_wsgi(_flask_app(world.billing)) if kind == "flask" else serve_asgi(_fastapi_app(world.billing))
    with serve as base, open_tab(base) as page:
        page.goto(base + "/")
        out: dict[str, Any] = page.evaluate(SCRIPT, [key, wrong])
        errors = [e for e in page.errors if not e.startswith("401 ")]     # the wrong key's answer, on purpose
        outside = page.outside
    assert errors == [] and outside == []
    assert (out["hasExport"], out["hasTeleport"]) == (True, False)
    assert out["check"]["allowed"] is True and out["check"]["limit"] == 1000 and out["check"]["feature"] == "api_calls"
    assert out["first"] == {"accepted": 1, "duplicates": 0} and out["again"] == {"accepted": 0, "duplicates": 1}
    assert out["batch"] == {"accepted": 2, "duplicates": 0}
    assert world.billing.usage.total("org_a", "api_calls") == 9
    assert out["subscription"]["id"] == world.subs["org_a"]
    assert [i["id"] for i in out["invoices"]["items"]] == [i.id for i in world.billing.invoices.list("org_a", limit=5)]
    assert out["error"] == [True, 401, "https://billingos.dev/errors/unauthenticated"]
