"""The admin insights pages in a real browser (Debian's Chromium through Playwright, the Flask adapter behind
a real HTTP server; the fixtures are the admin browser test's).

An admin follows the bell to the unread insights, dismisses one, records an action on another, marks a third
read (the bell's count falls each time), filters by kind, reads the churn model report (Chart.js draws the
calibration chart from the page's JSON) and opens a customer's risk. Every page: no console errors, no
horizontal scroll at 390 px, no serious or critical axe-core violations, screenshots at 1280 and 390 px."""

from __future__ import annotations

from typing import Any

from tests.admin import insights_data
from tests.admin.conftest import World
from tests.browser.test_admin import base_url, check, tab, world  # noqa: F401  (the shared fixtures)


def _bell(page: Any) -> int:
    return int(page.locator("#bos-bell .bos-bell-count").get_attribute("data-count"))


def test_an_admin_works_through_the_insights(world: World, tab: Any) -> None:  # noqa: F811
    page, b = tab, world.billing
    # before anything happened: the bell reads 0 and the model page says how to train one
    page.goto("/billing/admin/insights/model")
    assert _bell(page) == 0
    assert "billingos insights evaluate" in page.locator("main").inner_text()
    check(page, "insights-model-empty")

    insights_data.record_alerts(b)
    insights_data.train(b)
    insights_data.score(b)
    unread = b.insights.unread_count()
    assert unread >= 5

    page.goto("/billing/admin/customers")
    assert _bell(page) == unread
    assert page.locator("#bos-bell").get_attribute("aria-label") == f"{unread} unread insights"
    page.locator("#bos-bell").click()
    page.wait_for_url("**/admin/insights?state=new")
    items = page.get_by_role("list", name="Insights, newest first").locator("li.bos-insight")
    assert items.count() == unread
    check(page, "insights")

    newest = [a.id for a in b.insights.alerts(state="new").items]
    # dismiss the newest
    page.get_by_role("button", name=f"Dismiss insight {newest[0]}").click()
    assert "The insight was dismissed." in page.get_by_role("status").inner_text()
    assert _bell(page) == unread - 1
    gone = b.insights.get(newest[0])
    assert (gone.state, gone.dismissed_by) == ("dismissed", "ops@example.com")

    # record an action on the next one, with a note
    page.get_by_role("button", name=f"Act on insight {newest[1]}").click()
    page.locator(f"#note-{newest[1]}").fill("Called Alice, offered the annual plan")
    page.get_by_role("button", name=f"Record action on insight {newest[1]}").click()
    assert "Your action was recorded" in page.get_by_role("status").inner_text()
    acted = b.insights.get(newest[1])
    assert (acted.state, acted.acted_by, acted.note) == ("acted", "ops@example.com",
                                                         "Called Alice, offered the annual plan")
    assert _bell(page) == unread - 2

    # mark a third read
    page.get_by_role("button", name=f"Mark read: insight {newest[2]}").click()
    assert "Marked as read." in page.get_by_role("status").inner_text()
    assert _bell(page) == unread - 3 == b.insights.unread_count()
    assert b.insights.get(newest[2]).read_by == "ops@example.com"

    # filter by kind
    page.goto("/billing/admin/insights")
    page.get_by_label("Kind").select_option("churn_risk")
    page.get_by_role("button", name="Filter").click()
    heads = page.locator("li.bos-insight .bos-insight-head .bos-badge:first-child").all_inner_texts()
    assert heads and set(heads) == {"Churn risk"}
    check(page, "insights-filtered")

    # the churn model report, with the calibration chart drawn by Chart.js
    page.get_by_role("link", name="Churn model report").click()
    page.wait_for_url("**/admin/insights/model")
    report = b.insights.report()
    assert f"Churn model v{report.version}" in page.locator("h1").inner_text()
    points = page.evaluate("() => Chart.getChart(document.getElementById('bos-calibration'))"
                           ".data.datasets[0].data.length")
    assert points == len(report.calibration)
    check(page, "insights-model")

    # a customer's risk, from an insight's customer link
    page.goto("/billing/admin/insights?customer=org_alice&kind=churn_risk")
    page.locator("li.bos-insight a.bos-insight-owner").first.click()
    page.wait_for_url(f"**/customers/{world.alice.id}")
    risk = page.locator("section.bos-risk")
    score = b.insights.risk("org_alice")
    assert score is not None and f"{score.score * 100:.0f}%" in risk.inner_text()
    assert score.reasons[0].capitalize() in risk.inner_text()
    assert risk.get_by_role("img").count() == 1         # the trend sparkline, labelled
    check(page, "customer-risk")
