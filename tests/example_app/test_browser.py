"""The example app in a real browser: a real HTTP server (werkzeug, or uvicorn for the FastAPI app, in a
thread) and Debian's Chromium driven by Playwright. No browser is ever downloaded: ``playwright install``
is never run.

Skipped when /usr/bin/chromium or the playwright package is missing, unless BILLINGOS_REQUIRE_SERVICES=1
(CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.kit import check_page, need_browser, open_tab, serve_asgi, serve_wsgi

from .conftest import make_app

MONEY = re.compile(r"^\$\d[\d,]*\.\d\d$")


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """The example app on 127.0.0.1, a free port, a temp instance dir; stopped after the test."""
    need_browser()                       # checked first, so a missing browser skips before the app starts
    with serve_wsgi(make_app(tmp_path / "instance"), threaded=False) as url:
        yield url


@pytest.fixture
def page(base_url: str) -> Iterator[Any]:
    with open_tab(base_url, base_url=base_url, width=1000, height=900) as tab:
        yield tab


def _flash(page: Any) -> str:
    return str(page.locator("p.flash").inner_text())


def test_signup_trial_upgrade_card_cancel_resume_invoices(page: Any, tmp_path: Path) -> None:
    """The app's sign-up, then billingos's customer portal (the app's pages link to it)."""
    from playwright.sync_api import expect

    # Sign up: a customer and a 14-day Pro trial.
    page.goto("/signup")
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your shelf")
    expect(page.get_by_test_id("plan-summary")).to_contain_text("Pro · trialing")
    expect(page.get_by_test_id("plan-summary")).to_contain_text("Trial ends")

    # The portal, in the app's colours and brand.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    expect(page.locator("main")).to_contain_text("Free trial until")
    expect(page.get_by_text("No card on file.")).to_be_visible()

    # Upgrade: the preview first, with amounts, then confirm.
    page.get_by_role("button", name="Change plan").click()
    page.get_by_role("article", name="Team").get_by_role("button", name="Upgrade").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your change")
    amount = page.locator(".bos-due dd.bos-amount").inner_text()
    assert MONEY.match(amount), amount
    page.screenshot(path=str(tmp_path / "confirm_change.png"), full_page=True)
    page.get_by_role("button", name="Confirm change").click()
    expect(page.get_by_role("status")).to_have_text("Your plan was changed.")
    expect(page.locator("main")).to_contain_text("Team")

    # A card, on the emulator's stand-in for Stripe's card form.
    page.get_by_role("link", name="Manage payment methods").click()
    page.get_by_role("button", name="Add a card").click()
    page.get_by_label("Visa ending 4242: succeeds").check()
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_role("status")).to_have_text("Your card was saved.")
    expect(page.locator("main")).to_contain_text("Visa ending in 4242")

    # Cancel at period end with a reason; then resume.
    page.get_by_role("link", name="Overview").click()
    page.get_by_role("button", name="Cancel plan").click()
    page.get_by_label("It's too expensive").check()
    page.get_by_role("button", name="Cancel my plan").click()
    expect(page.get_by_role("status")).to_contain_text("will cancel at the end of this period")
    page.screenshot(path=str(tmp_path / "plan_canceling.png"), full_page=True)
    page.get_by_role("button", name="Keep my plan").click()
    expect(page.get_by_role("status")).to_contain_text("Welcome back")

    # Demo tools: a month passes, the trial ends and the card pays the first Team invoice.
    page.get_by_role("link", name="Back to the app").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Demo tools").click()
    page.get_by_role("button", name="Advance time 1 month").click()
    assert _flash(page).startswith("Time moved 1 month forward")

    # Invoices, in the portal.
    page.goto("/billing/portal/invoices")
    expect(page.get_by_role("heading", level=1)).to_have_text("Invoices")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Paid")
    expect(rows.first).to_contain_text("$99.00")
    expect(rows.nth(1)).to_contain_text("$0.00")
    page.screenshot(path=str(tmp_path / "invoices.png"), full_page=True)
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invoice ")
    expect(page.locator("tfoot")).to_contain_text("$99.00")

    assert page.outside == [], f"requests left the app: {page.outside}"
    assert all((tmp_path / name).stat().st_size > 10_000
               for name in ("confirm_change.png", "plan_canceling.png", "invoices.png"))


def test_failing_card_shows_past_due_and_another_users_invoice_is_404(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    def signup(name: str) -> None:
        page.goto("/signup")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Email").fill(f"{name}@example.com")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_test_id("plan-summary")).to_contain_text("trialing")

    signup("grace")
    page.goto("/billing/portal/invoices")
    grace_invoice = page.locator("tbody tr a").first.get_attribute("href")
    assert grace_invoice and grace_invoice.startswith("/billing/portal/invoices/in_")
    page.goto("/app")
    page.get_by_role("button", name="Log out").click()

    signup("ada")
    page.goto("/demo/")
    page.get_by_role("button", name="Use a failing card").click()
    assert "Stripe declines" in _flash(page)
    for _ in range(2):   # the trial ends after 14 days and its first invoice is declined
        page.goto("/demo/")
        page.get_by_role("button", name="Advance time 1 week").click()
    page.goto("/billing/portal/")
    expect(page.locator("main")).to_contain_text("Payment overdue since")

    response = page.goto(grace_invoice)
    assert response is not None and response.status == 404


def test_the_fastapi_app_serves_the_same_pages(tmp_path: Path) -> None:
    """The FastAPI app's home, pricing and sign-up pages (the Flask app's templates) under uvicorn: no
    console errors, nothing off the app, no serious axe-core violation, no sideways scroll at 390 px; then a
    sign-up through the form lands on the shelf."""
    need_browser()
    from playwright.sync_api import expect

    from example_app.fastapi_app import create_app
    app = create_app(tmp_path / "instance")
    try:
        with serve_asgi(app) as url, open_tab(url, base_url=url, width=1280, height=900) as page:
            for path, name, heading in (("/", "home", "Your links, shelved."), ("/pricing", "pricing",
                                                                                 "Plans and prices")):
                page.goto(path)
                expect(page.get_by_role("heading", level=1)).to_have_text(heading)
                check_page(page, f"example-fastapi-{name}")
            page.goto("/signup")
            page.get_by_label("Name").fill("Ada")
            page.get_by_label("Email").fill("ada@example.com")
            page.get_by_label("Password").fill("correct horse battery")
            page.get_by_role("button", name="Create account").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Your shelf")
            expect(page.get_by_test_id("plan-summary")).to_contain_text("Pro · trialing")
            check_page(page, "example-fastapi-shelf")
    finally:
        app.state.billing.close()
