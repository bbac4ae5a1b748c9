"""The admin analytics page in a real browser (Debian's Chromium through Playwright, the Flask adapter behind
a werkzeug server) over the seeded year of tests/admin/analytics_seed.py: every chart is drawn by the
vendored Chart.js with one point per interval, no console errors, no serious or critical axe-core
violations, no horizontal scroll at 390 px, and the date-range picker changes the figures. Screenshots at
1280 and 390 px go to tests/browser/screenshots/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from billingos import Billing
from tests.admin.conftest import analytics_billing, analytics_db  # noqa: F401  (fixtures)

from .kit import need_browser, serve_wsgi
from .test_admin import admin_app, check, tab  # noqa: F401  (tab: the admin's browser tab)

CHARTS = {"mrr": 2, "movements": 6, "churn": 3}      # datasets per chart


@pytest.fixture
def base_url(analytics_billing: Billing) -> Iterator[str]:  # noqa: F811
    need_browser()
    with serve_wsgi(admin_app(analytics_billing), threaded=False) as url:
        yield url


def drawn(page: Any) -> dict[str, list[int]]:
    """Each chart's datasets' point counts, read from Chart.js's own chart instances."""
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas[data-chart]').length === 3 && "
                           "[...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c))")
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('canvas[data-chart]')].map(c =>
        [c.dataset.chart, Chart.getChart(c).data.datasets.map(d => d.data.length)]))""")


def test_analytics_page_draws_every_chart_and_the_range_picker_changes_the_figures(
        tab: Any, analytics_billing: Billing) -> None:  # noqa: F811
    page = tab
    page.goto("/billing/admin/customers")
    page.get_by_role("link", name="Analytics").click()
    page.wait_for_url("**/billing/admin/analytics")
    counts = drawn(page)
    assert counts == {name: [12] * n for name, n in CHARTS.items()}, counts
    values = page.evaluate("() => Chart.getChart(document.getElementById('chart-mrr')).data.datasets[0].data")
    movements = analytics_billing.analytics.movements(datetime(2025, 2, 1, tzinfo=UTC),
                                                      datetime(2026, 1, 21, tzinfo=UTC))
    assert values == [float(m.mrr_end.decimal) for m in movements]
    colours = page.evaluate("""() => Chart.getChart(document.getElementById('chart-movements')).data.datasets
        .map(d => [d.label, d.backgroundColor])""")
    assert [c[0] for c in colours] == ["New", "Expansion", "Reactivation", "Contraction", "Churn", "FX"]
    mrr_text = page.locator("#figure-mrr [data-value]").inner_text()
    assert mrr_text == analytics_billing.analytics.mrr().format()
    page.get_by_text("MRR as a table").click()
    assert page.locator("details[open] tbody tr").count() == 12
    check(page, "analytics")

    # the picker: a custom range by week changes the charts and the figures
    page.get_by_label("From").fill("2025-03-01")
    page.get_by_label("To (included)").fill("2025-08-31")
    page.get_by_label("Interval").select_option("week")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**interval=week**")
    counts = drawn(page)
    assert counts == {name: [27] * n for name, n in CHARTS.items()}, counts
    changed = page.locator("#figure-mrr [data-value]").inner_text()
    assert changed == analytics_billing.analytics.mrr(at=datetime(2025, 9, 1, tzinfo=UTC)).format() != mrr_text
    check(page, "analytics-weekly")

    # a preset
    page.get_by_role("link", name="Last 3 months").click()
    page.wait_for_url("**range=3m**")
    assert drawn(page) == {name: [13] * n for name, n in CHARTS.items()}   # 27 Oct to 20 Jan: 12 weeks, 2 days
    page.get_by_role("link", name="Customers", exact=True).last.click()       # the cohort view switch
    page.wait_for_url("**cohort=customers**")
    check(page, "analytics-cohort-customers")

    # bad input: the page answers 400 with the form and the message, and no chart
    response = page.goto("/billing/admin/analytics?start=2025-06-01&end=2025-05-01")
    assert response.status == 400
    assert "is before the start date" in page.get_by_role("alert").inner_text()
    assert page.locator("canvas").count() == 0
    page.errors.clear()           # the 400 response itself is logged by Chromium as a failed resource
    check(page, "analytics-error")
