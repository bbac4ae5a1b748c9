"""The admin dashboard in a real browser (Debian's Chromium driven by Playwright; nothing is downloaded),
served by a real HTTP server (werkzeug in a thread) around the Flask adapter.

An admin finds a customer by email, reads the timeline, cancels and resumes the subscription, refunds an
invoice, replays a failed webhook and exports customers to CSV. Every page: no console errors, no
horizontal scroll at 390 px, no serious or critical axe-core violations; screenshots at 1280 and 390 px go
to tests/browser/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from tests.admin.conftest import World, build_world
from tests.browser.kit import check_page, need_browser, open_tab, serve_wsgi
from tests.conftest import WEBHOOK_SECRET


@pytest.fixture
def world(sqlite_engine: Engine) -> World:
    need_browser()
    clock = FrozenClock(datetime(2026, 1, 15, 12, tzinfo=UTC))
    billing = Billing(engine=sqlite_engine, emulator=Emulator(clock=clock), clock=clock,
                      webhook_secrets=[WEBHOOK_SECRET])
    return build_world(billing)


@pytest.fixture
def base_url(world: World) -> Iterator[str]:
    with serve_wsgi(admin_app(world.billing), threaded=False) as url:
        yield url


def admin_app(billing: Billing) -> Any:
    """A host whose admin session is a ``host_admin`` cookie, with billingos's pages mounted."""
    from flask import Flask, request

    from billingos_flask import BillingOS
    app = Flask(__name__)
    app.config.update(SECRET_KEY="admin-browser-secret-key-0123456789")
    ext = BillingOS(app, billing=billing)
    ext.customer_loader(lambda: None)
    ext.admin_loader(lambda: request.cookies.get("host_admin"))       # the host's own admin session
    return app


@pytest.fixture
def tab(base_url: str) -> Iterator[Any]:
    with open_tab(base_url, base_url=base_url, accept_downloads=True,
                  cookies=[("host_admin", "ops@example.com")]) as page:
        yield page


def check(page: Any, name: str) -> None:
    check_page(page, f"admin-{name}")


def test_an_admin_works_through_the_dashboard(world: World, tab: Any) -> None:
    page = tab
    page.goto("/billing/admin/")
    assert page.url.endswith("/billing/admin/customers")
    check(page, "customers")

    # finds a customer by email
    page.get_by_label("Search").fill("alice@example")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    rows.get_by_role("link", name="Alice@Example.com").click()
    page.wait_for_url(f"**/customers/{world.alice.id}")

    # reads the timeline
    timeline = page.get_by_role("list", name="Activity, newest first")
    assert "Payment of $10.00 received" in timeline.inner_text()
    assert "Subscription started" in timeline.inner_text()
    check(page, "customer")

    # cancels at the period end, then resumes
    page.get_by_role("link", name="Basic").click()
    page.wait_for_url(f"**/subscriptions/{world.subscription.id}")
    check(page, "subscription")
    page.get_by_role("button", name="Cancel subscription").click()
    assert "will cancel at the period end" in page.get_by_role("status").inner_text()
    assert world.billing.subscriptions.get(world.subscription.id).cancel_at_period_end
    check(page, "subscription-canceling")
    page.get_by_role("button", name="Resume").click()
    assert "continues" in page.get_by_role("status").inner_text()
    assert not world.billing.subscriptions.get(world.subscription.id).cancel_at_period_end

    # refunds part of the invoice, after the confirmation step
    page.get_by_role("link", name=world.invoice.number).click()
    check(page, "invoice")
    page.get_by_label("Amount (empty: all $10.00)").fill("4")
    page.get_by_role("button", name="Review refund").click()
    check(page, "refund-confirm")
    assert world.billing.refunds.list(world.invoice.id) == []
    page.get_by_role("button", name="Refund $4.00").click()
    assert "The refund was sent" in page.get_by_role("status").inner_text()
    assert [r.amount for r in world.billing.refunds.list(world.invoice.id)] == [400]

    # replays the failed webhook once the host fixed its handler
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("Status").select_option("dead")
    page.get_by_role("button", name="Filter").click()
    check(page, "webhooks")
    world.broken["on"] = False
    page.get_by_label(f"Pick {world.dead_event}").check()
    page.get_by_role("button", name="Replay picked").click()
    assert "queued again" in page.get_by_role("status").inner_text()
    world.billing.testing.drain()
    page.goto(f"/billing/admin/events/{world.dead_event}")
    assert "Processed" in page.locator("hgroup").inner_text()
    check(page, "webhook")

    # the audit log holds what the admin did, by name
    page.get_by_role("link", name="Audit log").click()
    assert "subscription.cancel" in page.locator("tbody").inner_text()
    assert "invoice.refunded" in page.locator("tbody").inner_text()

    # exports the customers to CSV
    page.get_by_role("link", name="Customers").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    failure = download.value.failure()
    assert failure is None, failure
    content = Path(download.value.path()).read_text()
    rows_csv = list(csv.reader(io.StringIO(content)))
    assert rows_csv[0][:3] == ["stripe_id", "owner_id", "email"]
    assert sorted(r[1] for r in rows_csv[1:]) == ["org_alice", "org_bob"]
    assert download.value.suggested_filename == "customers.csv"

    for path, name in (("/billing/admin/subscriptions", "subscriptions"), ("/billing/admin/jobs?queue=webhooks",
                                                                           "jobs"),
                       ("/billing/admin/reconcile", "reconcile"), ("/billing/admin/api-keys", "api-keys"),
                       ("/billing/admin/audit", "audit")):
        page.goto(path)
        check(page, name)
