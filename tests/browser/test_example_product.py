"""The seeded example (Linkshelf) in a real browser: Debian's Chromium driven by Playwright (nothing is
downloaded), the Flask app served by werkzeug in a thread, its instance seeded once for the module through
``example_app.bootstrap.seeded_app`` (a small history, for speed).

Each main page: a screenshot at 1280 and 390 px into tests/browser/screenshots/ (git-ignored; look at
them), no console errors, no request off the app, no serious or critical axe-core violation, no
horizontal scroll at 390 px, and content: tables have rows, charts have points. The admin's analytics,
insights (alerts) and model pages are among them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .kit import SHOTS, check_page, need_browser, open_tab, serve_wsgi

CUSTOMERS, MONTHS = 12, 4


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_browser()
    from example_app.bootstrap import seeded_app
    app, summary = seeded_app(tmp_path_factory.mktemp("linkshelf") / "instance", customers=CUSTOMERS,
                              months=MONTHS, progress=False)
    assert summary["customers"] == CUSTOMERS and summary["users"] == CUSTOMERS
    try:
        with serve_wsgi(app, threaded=False) as url:
            yield url
    finally:
        app.extensions["billingos"].billing_for(app).close()


@pytest.fixture
def tab(base_url: str) -> Iterator[Any]:
    with open_tab(base_url, base_url=base_url) as page:
        page.set_default_timeout(30_000)
        yield page


def shoot(page: Any, name: str, *, rows: str | None = None, charts: bool = False) -> None:
    """Content first (tables have rows, charts have points), then the kit's checks (console, off-site
    requests, axe-core, 390 px without sideways scrolling, screenshots)."""
    page.wait_for_load_state("networkidle")
    assert page.locator("main").inner_text().strip(), f"{name}: empty <main>"
    if rows is not None:
        assert page.locator(rows).count() > 0, f"{name}: no rows in {rows}"
    if charts:
        points = page.evaluate("""() => window.Chart ? Object.values(Chart.instances).map(c =>
            c.data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null && v !== undefined).length, 0)) : []""")
        canvases = page.locator("canvas").count()
        assert canvases > 0 and len(points) == canvases and all(n > 0 for n in points), f"{name}: charts {points}"
    check_page(page, f"example-{name}")
    # the full-page shot at 390 px right after a resize can catch the narrow layout half painted: take it again
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"example-{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_home_and_pricing(tab: Any) -> None:
    page = tab
    page.goto("/")
    assert page.get_by_role("button", name="Sign in as a demo customer").is_visible()
    shoot(page, "home")
    page.goto("/pricing")
    shoot(page, "pricing", rows="[role=listitem]")
    assert page.locator("[role=listitem]").count() == 3
    assert "$29.00" in page.get_by_test_id("price-pro").inner_text()


def test_a_demo_customer_sees_the_portal_with_history(tab: Any) -> None:
    page = tab
    page.goto("/")
    page.get_by_role("button", name="Sign in as a demo customer").click()
    page.wait_for_url("**/billing/portal/")
    shoot(page, "portal-overview")
    assert "Renews on" in page.locator("main").inner_text()

    page.goto("/billing/portal/invoices")
    shoot(page, "portal-invoices", rows="tbody tr")
    page.locator("tbody tr a").first.click()
    shoot(page, "portal-invoice", rows="tbody tr")

    page.goto("/billing/portal/plans")
    shoot(page, "portal-plans", rows="article")
    page.get_by_role("button", name="Upgrade").first.click()      # the demo customer pays Pro monthly: Team is up
    page.get_by_role("heading", level=1, name="Review your change").wait_for()
    shoot(page, "portal-preview", rows=".bos-due dd")

    page.goto("/billing/portal/payment-methods")
    shoot(page, "portal-cards")
    assert "ending in" in page.locator("main").inner_text()
    page.goto("/billing/portal/usage")
    shoot(page, "portal-usage")

    page.goto("/app")
    shoot(page, "app-links", rows="tbody tr")
    page.goto("/app/developers")
    shoot(page, "app-developers")


def test_the_demo_admin_sees_the_dashboard_analytics_and_insights(tab: Any) -> None:
    page = tab
    page.goto("/")
    page.get_by_role("button", name="Open the admin as demo admin").click()
    page.wait_for_url("**/billing/admin/**")
    page.goto("/billing/admin/customers")
    shoot(page, "admin-customers", rows="tbody tr")
    assert page.locator("tbody tr").count() >= min(CUSTOMERS, 20)
    page.goto("/billing/admin/subscriptions")
    shoot(page, "admin-subscriptions", rows="tbody tr")
    page.locator("tbody tr a").first.click()
    shoot(page, "admin-subscription")

    page.goto("/billing/admin/analytics")
    shoot(page, "admin-analytics", charts=True)
    page.goto("/billing/admin/insights")                    # the alerts inbox: the seed's failed payments at least
    shoot(page, "admin-insights", rows="li.bos-insight")
    page.goto("/billing/admin/insights/model")
    shoot(page, "admin-insights-model")
