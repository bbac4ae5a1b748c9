"""The usage alerts form, the seat picker (with its review page) and the reconcile history in Chromium, at
1280 and 390 px: no console errors, nothing scrolls sideways, no serious axe-core violations; screenshots
in tests/browser/screenshots/ (pf-*)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock
from billingos.catalog.schemas import Catalog
from billingos.emulator import Emulator
from tests.browser.kit import check_page, need_browser, open_tab, serve_wsgi
from tests.conftest import WEBHOOK_SECRET
from tests.portal.test_alerts_and_seats import CATALOG

OWNER = "org_browser"


@pytest.fixture
def site(sqlite_engine: Engine) -> Iterator[tuple[str, Billing]]:
    need_browser()
    from flask import Flask, redirect, request, session

    from billingos_flask import BillingOS

    clock = FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    billing = Billing(engine=sqlite_engine, emulator=Emulator(clock=clock), clock=clock,
                      webhook_secrets=[WEBHOOK_SECRET])
    billing.testing.connect()
    billing.catalog.sync(Catalog.model_validate(CATALOG))
    customer = billing.customers.create(owner_id=OWNER, email="ada@shop.test", name="Ada Lovelace")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    billing.customers.update(OWNER, default_payment_method=pm.id)
    billing.subscriptions.create(OWNER, price="team_monthly", quantity=7)
    billing.usage.track(OWNER, "api_calls", 42_000, "seed-1")
    for i in range(22):
        billing.reconcile(dry_run=i % 2 == 0, source=("cli", "task", "code")[i % 3],
                          started_by="ada" if i % 3 == 0 else None)
    billing.testing.drain()

    app = Flask(__name__)
    app.config.update(SECRET_KEY="browser-test-secret", BILLINGOS_RETURN_URL="/")
    ext = BillingOS(app, billing=billing)
    ext.customer_loader(lambda: session.get("owner"))
    ext.admin_loader(lambda: "ops@example.com" if session.get("owner") else None)

    @app.get("/login")
    def login() -> Any:
        session["owner"] = OWNER
        return redirect(request.args.get("next", "/billing/portal/"))

    try:
        with serve_wsgi(app) as url:
            yield url, billing
    finally:
        billing.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_alerts_seats_and_reconcile_history(site: tuple[str, Billing], width: int) -> None:
    base, billing = site
    with open_tab(base, width=width, height=900) as tab:
        tab.goto(f"{base}/login")

        tab.goto(f"{base}/billing/portal/usage")
        tab.get_by_label("API calls: email me at (%)").fill("50, 80")
        tab.get_by_role("button", name="Save").click()
        tab.wait_for_url("**/usage?done=alerts")
        assert billing.usage.alert_thresholds(OWNER)["api_calls"].thresholds == (50, 80)
        check_page(tab, f"pf-usage-alerts-{width}")
        tab.get_by_label("API calls: email me at (%)").fill("0, 500")
        tab.get_by_role("button", name="Save").click()
        assert "whole percentages from 1 to 100" in tab.locator(".bos-error").inner_text()
        check_page(tab, f"pf-usage-alerts-error-{width}")

        tab.goto(f"{base}/billing/portal/plans")
        check_page(tab, f"pf-plans-seats-{width}")
        tab.get_by_label("Seats").fill("10")
        tab.get_by_role("button", name="Change seats").click()
        tab.wait_for_url("**/plans/preview**")
        assert "Team · 10 seats" in tab.locator("main").inner_text()
        check_page(tab, f"pf-confirm-seats-{width}")
        tab.get_by_role("button", name="Confirm change").click()
        tab.wait_for_url("**/portal/?done=changed")
        assert billing.subscriptions.list(OWNER)[-1].items[0].quantity == 10

        tab.goto(f"{base}/billing/admin/reconcile")
        assert "the command line by ada" in tab.locator("main").inner_text()
        check_page(tab, f"pf-reconcile-{width}")
        tab.get_by_role("button", name="Earlier runs").click()
        assert "Earlier runs" in tab.locator("h2").first.inner_text()
        check_page(tab, f"pf-reconcile-page2-{width}")
