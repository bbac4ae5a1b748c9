"""The seeded example (Linkshelf) in a real browser: Debian's Chromium driven by Playwright (nothing is
downloaded), the Flask app served by werkzeug in a thread, its instance seeded once for the module through
``example_app.bootstrap.seeded_app`` (a small history, for speed).

Each main page: a screenshot at 1280 and 390 px into tests/browser/screenshots/ (git-ignored; look at
them), no console errors, no request off the app, no horizontal scroll at 390 px, and content: tables
have rows, charts have points. Linkshelf's own pages also pass axe-core (no serious or critical
violation). Admin pages another branch builds (analytics, insights, alerts) are skipped while their
route is not mounted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).parent / "screenshots"
REQUIRE = os.environ.get("BILLINGOS_REQUIRE_SERVICES") == "1"
CUSTOMERS, MONTHS = 12, 4


def _need_browser() -> None:
    missing = [] if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK) else [f"{CHROMIUM} is missing"]
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is missing")
    if missing:
        if REQUIRE:
            pytest.fail("; ".join(missing))
        pytest.skip("; ".join(missing))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _need_browser()
    from example_app.bootstrap import seeded_app
    app, summary = seeded_app(tmp_path_factory.mktemp("linkshelf") / "instance", customers=CUSTOMERS,
                              months=MONTHS, progress=False)
    assert summary["customers"] == CUSTOMERS and summary["users"] == CUSTOMERS
    yield app
    app.extensions["billingos"].billing_for(app).close()


@pytest.fixture(scope="module")
def base_url(seeded: Any) -> Iterator[str]:
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, seeded, threaded=False)
    thread = threading.Thread(target=server.serve_forever, name="linkshelf", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def tab(base_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.errors = []
            page.outside = []
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith(base_url) else page.outside.append(r.url))
            yield page
        finally:
            browser.close()


def shoot(page: Any, name: str, *, axe: bool = False, rows: str | None = None, charts: bool = False) -> None:
    """The page as it is now: content present, console clean, 390 px without horizontal scroll, two screenshots."""
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_load_state("networkidle")
    assert page.locator("main").inner_text().strip(), f"{name}: empty <main>"
    if rows is not None:
        count = page.locator(rows).count()
        assert count > 0, f"{name}: no rows in {rows}"
    if charts:
        points = page.evaluate("""() => window.Chart ? Object.values(Chart.instances).map(c =>
            c.data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null && v !== undefined).length, 0)) : []""")
        canvases = page.locator("canvas").count()
        assert canvases > 0 and len(points) == canvases and all(n > 0 for n in points), f"{name}: charts {points}"
    if axe:
        page.add_script_tag(url="/billing/static/vendor/axe-core/axe.min.js")
        violations = page.evaluate("""async () => (await axe.run()).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`)""")
        assert violations == [], f"{name}: {violations}"
    page.screenshot(path=str(SHOTS / f"example-{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)       # let the narrow layout settle before measuring and the full-page shot
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name}: {widths[0]} px wide at 390"
    page.screenshot(path=str(SHOTS / f"example-{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.errors == [], f"{name}: {page.errors}"
    assert page.outside == [], f"{name}: requests off the app {page.outside}"


def test_home_and_pricing(tab: Any) -> None:
    page = tab
    page.goto("/")
    assert page.get_by_role("button", name="Sign in as a demo customer").is_visible()
    shoot(page, "home", axe=True)
    page.goto("/pricing")
    shoot(page, "pricing", axe=True, rows="[role=listitem]")
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
    assert page.locator("tbody tr").count() >= MONTHS - 1       # one paid invoice a month at least
    page.locator("tbody tr a").first.click()
    shoot(page, "portal-invoice", rows="tbody tr")

    page.goto("/billing/portal/plans")
    shoot(page, "portal-plans", rows="article")
    page.get_by_role("button", name="Upgrade").first.click()      # the demo customer pays for Pro: Team is up
    page.get_by_role("heading", level=1, name="Review your change").wait_for()
    shoot(page, "portal-preview", rows=".bos-due dd")

    page.goto("/billing/portal/payment-methods")
    shoot(page, "portal-cards")
    assert "ending in" in page.locator("main").inner_text()
    page.goto("/billing/portal/usage")
    shoot(page, "portal-usage")

    page.goto("/app")
    shoot(page, "app-links", axe=True, rows="tbody tr")
    page.goto("/app/developers")
    shoot(page, "app-developers", axe=True)


def _mounted(page: Any, path: str) -> bool:
    response = page.request.get(path)
    return response.status != 404


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

    missing = []
    for path, name in (("/billing/admin/analytics", "admin-analytics"), ("/billing/admin/insights", "admin-insights"),
                       ("/billing/admin/alerts", "admin-alerts")):
        if not _mounted(page, path):
            missing.append(path)
            continue
        page.goto(path)
        shoot(page, name, charts=page.locator("canvas").count() > 0)
    if missing:
        pytest.skip(f"not mounted on this branch yet: {', '.join(missing)}")
