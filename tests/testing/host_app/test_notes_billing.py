"""The host app's billing tests, written with billingos's pytest plugin only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billingos import Billing


@pytest.mark.parametrize(("state", "export"), [("trialing", 200), ("active", 200), ("past_due", 200),
                                               ("incomplete", 403), ("canceled", 403), ("paused", 403)])
def test_subscriptions_in_every_state_gate_the_route(app, billing: Billing, billing_factory, state: str,
                                                      export: int) -> None:
    sub = billing_factory.subscription(price="pro_monthly", state=state)
    assert sub.status == state
    assert billing.subscriptions.get(sub.id).status == state          # the local copy, from the webhooks
    assert app.test_client().get("/export", headers={"X-Org": sub.owner_id}).status_code == export


def test_usage_is_metered_and_the_quota_spent(app, billing: Billing, billing_factory) -> None:
    cus = billing_factory.customer("org_heavy")
    billing_factory.subscription(cus, price="free_monthly", usage={"api_calls": 120}, consumed={"api_calls": 100})
    assert billing.usage.total("org_heavy", "api_calls") == 120
    check = billing.check("org_heavy", "api_calls")
    assert (check.limit, check.used, check.allowed) == (100, 100, False)
    assert app.test_client().post("/notes", headers={"X-Org": "org_heavy"}).status_code == 429
    assert app.test_client().post("/notes", headers={"X-Org": "org_light"}).status_code == 429   # no plan


def test_advance_renews_and_the_webhooks_go_through_the_apps_route(app, billing: Billing, billing_factory,
                                                                     advance, billing_clock, emulator) -> None:
    sub = billing_factory.subscription(price="pro_monthly")
    start = billing_clock.now()
    app.config["SEEN"].clear()
    now = advance(days=31)
    assert now == start + timedelta(days=31) == billing.now()
    assert emulator.now() == int(now.timestamp())
    assert [i.billing_reason for i in billing.invoices.list(sub.owner_id)] == [
        "subscription_cycle", "subscription_create"]
    assert billing.subscriptions.get(sub.id).current_period_start > sub.current_period_start
    assert app.config["SEEN"] and set(app.config["SEEN"]) == {"POST /billing/webhooks"}


def test_a_past_due_subscription_is_canceled_after_the_retries(app, billing: Billing, billing_factory, advance) -> None:
    sub = billing_factory.subscription(price="pro_monthly", state="past_due")
    advance(days=30)                       # Stripe's retries fail too, then the subscription is canceled
    assert billing.subscriptions.get(sub.id).status == "canceled"


def test_a_failed_payment_emails_the_customer(billing: Billing, billing_factory, mail_outbox) -> None:
    sub = billing_factory.subscription(price="pro_monthly", state="past_due")
    [mail] = mail_outbox.sent("payment_failed")
    assert mail.to == f"{sub.owner_id}@example.com" and mail.subject and mail.text
    assert billing.testing.outbox is mail_outbox          # the plugin's outbox is billing's mailer


def test_one_clock_for_billing_and_the_emulator(billing: Billing, billing_clock, emulator) -> None:
    assert billing.clock is billing_clock and emulator.clock is billing_clock and billing.emulator is emulator
