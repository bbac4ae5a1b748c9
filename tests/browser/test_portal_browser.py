"""The customer portal in Debian's Chromium (Playwright, never a downloaded browser) at 390 px: sign up
with a trial, upgrade after a preview, add a card on the emulator's stand-in Elements page, cancel at the
period end with a reason, resume, download an invoice PDF, and see a declined card's message. On every page:
no console errors, no sideways scrolling, no serious or critical axe-core violations (axe vendored in
billingos/static, injected here). Screenshots land in tests/browser/screenshots/ (git-ignored).

Skipped when /usr/bin/chromium or playwright is missing, unless BILLINGOS_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from tests.browser.kit import check_page, need_browser, open_tab, serve_wsgi
from tests.conftest import WEBHOOK_SECRET

OWNER = "org_browser"


def _host_app(billing: Billing) -> Any:
    """A tiny host: its own sign-up (a customer on a 14-day trial, no card) and login; the portal mounted."""
    from flask import Flask, redirect, session

    from billingos_flask import BillingOS

    app = Flask(__name__)
    app.config.update(SECRET_KEY="browser-test-secret", BILLINGOS_RETURN_URL="/")
    ext = BillingOS(app, billing=billing)
    ext.customer_loader(lambda: session.get("owner"))

    @app.get("/signup")
    def signup() -> Any:
        customer = billing.customers.create(owner_id=OWNER, email="ada@shop.test", name="Ada Lovelace")
        billing.subscriptions.create(customer, price="basic_monthly", trial_days=14)
        session["owner"] = OWNER
        return redirect("/billing/portal/")

    @app.get("/")
    def home() -> str:
        return "<!doctype html><html lang=en><title>Home</title><main><h1>The app</h1></main></html>"

    return app


@pytest.fixture
def site(sqlite_engine: Engine) -> Iterator[str]:
    need_browser()
    clock = FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    billing = Billing(engine=sqlite_engine, emulator=Emulator(clock=clock), clock=clock,
                      webhook_secrets=[WEBHOOK_SECRET])
    billing.testing.connect()
    sc = billing.stripe.v1
    basic = sc.products.create(params={"name": "Basic"})
    team = sc.products.create(params={"name": "Team"})
    for product, key, amount in ((basic, "basic_monthly", 1000), (team, "team_monthly", 9000)):
        sc.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": amount,
                                 "lookup_key": key, "recurring": {"interval": "month"}})
    billing.testing.drain()
    try:
        with serve_wsgi(_host_app(billing)) as url:
            yield url
    finally:
        billing.close()


@pytest.fixture
def tab(site: str) -> Iterator[Any]:
    with open_tab(site, width=390, height=844, bypass_csp=True, accept_downloads=True) as page:
        yield page


def test_a_customer_walks_the_portal(site: str, tab: Any) -> None:
    tab.goto(f"{site}/signup")
    assert "Free trial until 29 Jan 2026." in tab.inner_text("main")
    check_page(tab, "portal-01-overview-trial")

    tab.get_by_role("button", name="Change plan").click()
    check_page(tab, "portal-02-plans")
    tab.get_by_role("article", name="Team").get_by_role("button", name="Upgrade").click()
    assert tab.get_by_role("heading", name="Review your change").is_visible()
    assert "Due now" in tab.inner_text("main")
    check_page(tab, "portal-03-preview")
    tab.get_by_role("button", name="Confirm change").click()
    assert "Your plan was changed." in tab.get_by_role("status").inner_text()
    assert "Team" in tab.inner_text("main")

    tab.get_by_role("link", name="Payment methods").first.click()
    check_page(tab, "portal-04-cards-empty")
    tab.get_by_role("button", name="Add a card").click()
    check_page(tab, "portal-05-elements")
    tab.get_by_label("Visa ending 4242: succeeds").check()
    tab.get_by_role("button", name="Save card").click()
    assert "Your card was saved." in tab.get_by_role("status").inner_text()
    assert "Visa ending in 4242" in tab.inner_text("main")
    check_page(tab, "portal-06-cards")

    tab.get_by_role("link", name="Overview").click()
    tab.get_by_role("button", name="Cancel plan").click()
    tab.get_by_label("It's too expensive").check()
    tab.get_by_label("Anything else you'd like to tell us? (optional)").fill("Too pricey for a team of two")
    check_page(tab, "portal-07-cancel")
    tab.get_by_role("button", name="Cancel my plan").click()
    assert "will cancel at the end of this period" in tab.get_by_role("status").inner_text()
    check_page(tab, "portal-08-overview-canceling")
    tab.get_by_role("button", name="Keep my plan").click()
    assert "Welcome back" in tab.get_by_role("status").inner_text()

    tab.get_by_role("link", name="Invoices").first.click()
    check_page(tab, "portal-09-invoices")
    tab.locator("tbody tr").first.get_by_role("link").first.click()
    number = tab.get_by_role("heading", level=1).inner_text().removeprefix("Invoice ").strip()
    assert number and "-" in number
    check_page(tab, "portal-10-invoice")
    with tab.expect_download() as info:
        tab.get_by_role("button", name="Download PDF").click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and number.encode() in pdf

    tab.get_by_role("link", name="Usage").first.click()
    check_page(tab, "portal-11-usage")

    tab.get_by_role("link", name="Payment methods").first.click()
    tab.get_by_role("button", name="Add a card").click()
    tab.get_by_label("Visa ending 0002: declined (generic_decline)").check()
    tab.get_by_role("button", name="Save card").click()
    assert tab.get_by_role("alert").inner_text() == "Your card was declined."
    check_page(tab, "portal-12-declined")

    answer = tab.goto(f"{site}/billing/portal/invoices/in_nope")
    assert answer.status == 404
    check_page(tab, "portal-13-not-found")
    assert tab.outside == []
