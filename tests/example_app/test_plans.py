"""The example app's sign-up, demo pages and webhook wiring through Flask's test client. (Its plan and
invoice pages are billingos's portal now: tests/example_app/test_portal.py, tests/portal/.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from huey import MemoryHuey

from billingos import Billing
from billingos.subscriptions import Subscription

from .conftest import make_app, owner_of, post, signup, text


def _owner(app: Flask, name: str = "ada") -> str:
    return owner_of(app, f"{name}@example.com")


def _sub(billing: Billing, owner: str) -> Subscription:
    [sub] = [s for s in billing.subscriptions.list(owner) if s.status not in ("canceled", "incomplete_expired")]
    return sub


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    assert signup(c).status_code == 302
    return c


# --- signup ---------------------------------------------------------------------------------------
def test_signup_starts_a_14_day_pro_trial_without_a_card(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    sub = _sub(billing, owner)
    assert (sub.status, sub.price) == ("trialing", "pro_monthly")
    assert sub.trial_end == billing.now() + timedelta(days=14)
    assert billing.customers.get(owner_id=owner).default_payment_method is None
    stripe_side = billing.stripe.v1.subscriptions.retrieve(sub.id)
    assert stripe_side.status == "trialing" and stripe_side.default_payment_method is None
    page = text(client.get("/app"))
    assert "Pro · trialing Trial ends" in page and f"{sub.trial_end:%d %b %Y}" in page


def test_signup_keeps_the_account_when_the_trial_cannot_start(app: Flask, billing: Billing) -> None:
    assert billing.emulator is not None
    billing.emulator.faults.fail_paths.add("/v1/subscriptions")
    client = app.test_client()
    response = signup(client)
    assert response.status_code == 302
    owner = _owner(app)
    assert billing.customers.get(owner_id=owner) is not None and billing.subscriptions.list(owner) == []
    page = text(client.get("/app"))
    assert "the trial could not start" in page and "No plan yet" in page

    billing.emulator.faults.reset()
    plans = text(client.get("/billing/portal/plans"))      # the portal offers every plan to choose from
    assert "Choose" in plans and "You have no plan yet." in text(client.get("/billing/portal/"))
    assert billing.subscriptions.list(owner) == []


# --- the plan page --------------------------------------------------------------------------------


def test_dashboard_changes_reach_the_db_through_the_webhook_route(app: Flask, billing: Billing,
                                                                  client: FlaskClient) -> None:
    """A change made straight in "Stripe" (not through billingos) arrives as a signed webhook at
    POST /billing/webhooks, is processed on huey, and shows on the plan page."""
    assert billing.emulator is not None
    sub = _sub(billing, _owner(app))
    sent = len(billing.emulator.webhooks.log)
    billing.emulator.client().v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    attempts = billing.emulator.webhooks.log[sent:]
    assert attempts and all(a.status == 200 for a in attempts)
    assert _sub(billing, _owner(app)).cancel_at_period_end is True
    assert "then it cancels" in text(client.get("/billing/portal/"))
    event = billing.webhooks.events()[0]
    assert (event.type, event.status) == ("customer.subscription.updated", "processed")


def test_the_demo_connects_through_the_documented_path_and_a_restart_keeps_one_endpoint(
        app: Flask, billing: Billing, tmp_path: Path) -> None:
    """demo mode is billing.testing.connect(app): one endpoint at the app's own route, signed with the
    configured secret; a restart (same saved emulator state) moves it rather than adding another."""
    assert billing.emulator is not None
    endpoints = billing.emulator.client().v1.webhook_endpoints.list().data
    assert [e.url for e in endpoints] == ["http://testserver/billing/webhooks"]
    assert billing.emulator.webhooks.secret(endpoints[0].id) == billing.config.webhook_secrets[0]
    restarted = make_app(tmp_path / "instance")
    again = restarted.extensions["billingos"].billing_for(restarted)
    assert [e.id for e in again.emulator.client().v1.webhook_endpoints.list().data] == [endpoints[0].id]


def test_webhook_route_is_csrf_exempt_but_checks_signatures(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/billing/webhooks", data=b'{"id": "evt_1"}',
                           headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400
    assert response.is_json and "signature" in response.get_json()["detail"].lower()


def test_the_app_runs_billingos_tasks_on_its_immediate_huey(app: Flask, billing: Billing) -> None:
    huey = app.extensions["example_app.huey"]
    assert isinstance(huey, MemoryHuey) and huey.immediate
    assert billing.tasks.huey is huey
    assert any(name.startswith("billingos.") for name in huey._registry._registry)


def test_demo_page_and_advance(app: Flask, billing: Billing, client: FlaskClient, tmp_path: Path) -> None:
    page = client.get("/demo/")
    assert page.status_code == 200
    words = text(page)
    assert "Advance time 1 month" in words and "Use a failing card" in words
    assert f"{billing.now():%d %b %Y, %H:%M} UTC" in words
    start = billing.now()
    assert post(client, "/demo/advance", page="/demo/", days="7").status_code == 303
    assert billing.now() == start + timedelta(days=7)
    assert _sub(billing, _owner(app)).status == "trialing"
    assert "Time moved 1 week forward" in text(client.get("/demo/"))
    assert post(client, "/demo/advance", page="/demo/", days="7").status_code == 303
    assert _sub(billing, _owner(app)).status == "past_due"   # the trial ended with no card: the invoice failed
    assert "Payment overdue since" in text(client.get("/billing/portal/"))

    restarted = make_app(tmp_path / "instance")   # the demo clock survives a restart
    assert restarted.extensions["billingos"].billing_for(restarted).now() == start + timedelta(days=14)


@pytest.mark.parametrize("days", ["", "2", "abc", "-31", "31.0", "3100000000", "²", "9" * 400])
def test_advance_with_bad_days_changes_nothing(app: Flask, billing: Billing, client: FlaskClient,
                                               days: str) -> None:
    before = billing.now()
    response = post(client, "/demo/advance", page="/demo/", days=days)
    assert response.status_code == 400 and "Pick one of the buttons" in text(response)
    assert billing.now() == before


def test_failing_card_leads_to_past_due_and_dunning(app: Flask, billing: Billing, client: FlaskClient) -> None:
    owner = _owner(app)
    response = post(client, "/demo/failing-card", page="/demo/")
    assert response.status_code == 303
    assert "Stripe declines" in text(client.get("/demo/"))
    for _ in range(2):   # two weeks: the trial ends and its invoice is declined
        assert post(client, "/demo/advance", page="/demo/", days="7").status_code == 303
    sub = _sub(billing, owner)
    assert sub.status == "past_due"
    assert "Payment overdue since" in text(client.get("/billing/portal/"))
    [latest, *_] = billing.invoices.list(owner)
    assert latest.status == "open" and latest.attempt_count >= 1
    assert "Due $29.00" in text(client.get("/billing/portal/invoices"))
