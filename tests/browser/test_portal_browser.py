"""The customer portal in Debian's Chromium (Playwright, never a downloaded browser) at 390 px: sign up
with a trial, upgrade after a preview, add a card on the emulator's stand-in Elements page, cancel at the
period end with a reason, resume, download an invoice PDF, and see a declined card's message. On every page:
no console errors, no sideways scrolling, no serious or critical axe-core violations (axe vendored in
billingos/static, injected here). Screenshots land in tests/browser/screenshots/ (git-ignored).

Skipped when /usr/bin/chromium or playwright is missing, unless BILLINGOS_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from billingos.pages import STATIC_DIR
from tests.conftest import WEBHOOK_SECRET

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parent / "screenshots"
AXE = STATIC_DIR / "vendor" / "axe-core" / "axe.min.js"
OWNER = "org_browser"


def _need_browser() -> None:
    missing = []
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is missing")
    if missing:
        if os.environ.get("BILLINGOS_REQUIRE_SERVICES") == "1":
            pytest.fail("; ".join(missing))
        pytest.skip("; ".join(missing))


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
    _need_browser()
    from werkzeug.serving import make_server

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
    server = make_server("127.0.0.1", 0, _host_app(billing), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        billing.close()


@pytest.fixture
def tab(site: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True,
                                          accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.errors = []
            # Failed loads are reported by URL (the stand-in Stripe page has no favicon: Chromium asks /favicon.ico).
            page.on("console", lambda m: page.errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
            page.on("response", lambda r: page.errors.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico") and r.request.resource_type != "document"
                    else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.outside = []
            page.on("request", lambda r: None if r.url.startswith(site) else page.outside.append(r.url))
            yield page
        finally:
            browser.close()


def _look(tab: Any, name: str) -> None:
    """The checks every page must pass, then a screenshot to look at."""
    assert tab.errors == [], (name, tab.errors)
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} scrolls sideways"
    tab.add_script_tag(path=str(AXE))
    found = tab.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                           .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
    }""")
    assert found == [], (name, found)
    SHOTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_customer_walks_the_portal(site: str, tab: Any) -> None:
    tab.goto(f"{site}/signup")
    assert "Free trial until 29 Jan 2026." in tab.inner_text("main")
    _look(tab, "01-overview-trial")

    tab.get_by_role("button", name="Change plan").click()
    _look(tab, "02-plans")
    tab.get_by_role("article", name="Team").get_by_role("button", name="Upgrade").click()
    assert tab.get_by_role("heading", name="Review your change").is_visible()
    assert "Due now" in tab.inner_text("main")
    _look(tab, "03-preview")
    tab.get_by_role("button", name="Confirm change").click()
    assert "Your plan was changed." in tab.get_by_role("status").inner_text()
    assert "Team" in tab.inner_text("main")

    tab.get_by_role("link", name="Payment methods").first.click()
    _look(tab, "04-cards-empty")
    tab.get_by_role("button", name="Add a card").click()
    _look(tab, "05-elements")
    tab.get_by_label("Visa ending 4242: succeeds").check()
    tab.get_by_role("button", name="Save card").click()
    assert "Your card was saved." in tab.get_by_role("status").inner_text()
    assert "Visa ending in 4242" in tab.inner_text("main")
    _look(tab, "06-cards")

    tab.get_by_role("link", name="Overview").click()
    tab.get_by_role("button", name="Cancel plan").click()
    tab.get_by_label("It's too expensive").check()
    tab.get_by_label("Anything else you'd like to tell us? (optional)").fill("Too pricey for a team of two")
    _look(tab, "07-cancel")
    tab.get_by_role("button", name="Cancel my plan").click()
    assert "will cancel at the end of this period" in tab.get_by_role("status").inner_text()
    _look(tab, "08-overview-canceling")
    tab.get_by_role("button", name="Keep my plan").click()
    assert "Welcome back" in tab.get_by_role("status").inner_text()

    tab.get_by_role("link", name="Invoices").first.click()
    _look(tab, "09-invoices")
    tab.locator("tbody tr").first.get_by_role("link").first.click()
    number = tab.get_by_role("heading", level=1).inner_text().removeprefix("Invoice ").strip()
    assert number and "-" in number
    _look(tab, "10-invoice")
    with tab.expect_download() as info:
        tab.get_by_role("button", name="Download PDF").click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and number.encode() in pdf

    tab.get_by_role("link", name="Usage").first.click()
    _look(tab, "11-usage")

    tab.get_by_role("link", name="Payment methods").first.click()
    tab.get_by_role("button", name="Add a card").click()
    tab.get_by_label("Visa ending 0002: declined (generic_decline)").check()
    tab.get_by_role("button", name="Save card").click()
    assert tab.get_by_role("alert").inner_text() == "Your card was declined."
    _look(tab, "12-declined")

    answer = tab.goto(f"{site}/billing/portal/invoices/in_nope")
    assert answer.status == 404
    _look(tab, "13-not-found")
    assert tab.outside == []
