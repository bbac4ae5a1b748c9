"""ANALYTICS.md's fixed vectors, driven through the emulator and its webhooks into the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from billingos import Billing, Money


def test_check_value_12500_dollars(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any]) -> None:
    """Made in Stripe before billingos listened: the backfill (Events API and objects) builds the ledger."""
    for _ in range(100):
        subscribe(shop["monthly_100"])
    for _ in range(50):
        subscribe(shop["yearly_600"])
    assert billing.analytics.mrr() == Money(0, "usd")
    report = billing.analytics.backfill()
    assert (report.subscriptions, billing.analytics.mrr()) == (150, Money(1_250_000, "usd"))
    assert billing.analytics.arr() == Money(15_000_000, "usd")
    assert billing.analytics.active_subscribers() == 150
    again = billing.analytics.backfill()
    assert again.rows_written == 0 and billing.analytics.mrr() == Money(1_250_000, "usd")
    stages: list[str] = []
    rebuilt = billing.analytics.backfill(7, rebuild=True, progress=lambda stage, done: stages.append(stage))
    assert rebuilt.rows_written == report.rows_written and billing.analytics.mrr() == Money(1_250_000, "usd")
    assert {"events", "subscriptions"} <= set(stages)


def test_check_value_through_webhooks(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any],
                                      kit: Any) -> None:
    for _ in range(10):
        subscribe(shop["monthly_100"])
    for _ in range(5):
        subscribe(shop["yearly_600"])
    assert billing.analytics.mrr() == Money(125_000, "usd")


def test_weekly_plan_is_52_over_12(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any],
                                   kit: Any) -> None:
    subscribe(shop["weekly_10"])
    assert billing.analytics.mrr() == Money(4333, "usd")
    subscribe(shop["quarterly_300"])
    assert billing.analytics.mrr() == Money(4333 + 10000, "usd")


def test_what_adds_nothing(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any], kit: Any) -> None:
    sc = billing.stripe.v1
    subscribe(shop["monthly_100"], trial_period_days=14)                               # trialing
    subscribe(shop["monthly_100"], card=False, payment_behavior="default_incomplete")  # incomplete
    subscribe(shop["free"])                                                           # free plan
    subscribe([{"price": shop["metered"]}])                                           # metered usage
    paused = subscribe(shop["monthly_100"])
    sc.subscriptions.update(paused.id, params={"pause_collection": {"behavior": "void"}})
    taxed = sc.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    subscribe(shop["monthly_100"], default_tax_rates=[taxed.id])                      # tax: only $100 counts
    assert billing.analytics.mrr() == Money(10000, "usd")
    causes = {e.cause for e in billing.analytics.ledger()}
    assert "paused" in causes and "trial_started" in causes


def test_unpaid_counts_nothing(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any], kit: Any) -> None:
    sub = subscribe(shop["monthly_100"])
    assert billing.analytics.mrr() == Money(10000, "usd")
    fail = billing.stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": sub.customer})
    billing.stripe.v1.customers.update(sub.customer, params={"invoice_settings": {"default_payment_method": fail.id}})
    billing.testing.advance(days=32)           # renewal fails: past_due still counts (dunning window open)
    assert billing.stripe.v1.subscriptions.retrieve(sub.id).status == "past_due"
    assert billing.analytics.mrr() == Money(10000, "usd")
    billing.testing.advance(days=40)           # retries exhausted
    status = billing.stripe.v1.subscriptions.retrieve(sub.id).status
    assert status in ("unpaid", "canceled")
    assert billing.analytics.mrr() == Money(0, "usd")
    causes = [e.cause for e in billing.analytics.ledger()]
    assert causes[:3] == ["created", "new", "past_due_entered"] and causes[-1] in ("unpaid", "canceled")


def test_only_forever_discounts_reduce_and_ending_one_is_expansion(
        billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any], kit: Any) -> None:
    sc = billing.stripe.v1
    forever = sc.coupons.create(params={"percent_off": 25, "duration": "forever"})
    once = sc.coupons.create(params={"percent_off": 50, "duration": "once"})
    repeating = sc.coupons.create(params={"amount_off": 1000, "currency": "usd", "duration": "repeating",
                                          "duration_in_months": 3})
    a = subscribe(shop["monthly_100"], discounts=[{"coupon": forever.id}])
    subscribe(shop["monthly_100"], discounts=[{"coupon": once.id}])
    subscribe(shop["monthly_100"], discounts=[{"coupon": repeating.id}])
    assert billing.analytics.mrr() == Money(7500 + 10000 + 10000, "usd")
    start = billing.now() + timedelta(seconds=1)   # after the sign-ups
    billing.testing.advance(days=3)
    sc.subscriptions.update(a.id, params={"discounts": ""})                   # the forever discount ends
    assert billing.analytics.mrr() == Money(30000, "usd")
    [m] = billing.analytics.movements(start, billing.now() + timedelta(seconds=1), interval="month")
    assert (m.expansion, m.new, m.contraction) == (Money(2500, "usd"), Money(0, "usd"), Money(0, "usd"))
    assert billing.analytics.ledger(subscription=a.id)[-1].cause == "discount"


def test_cancel_leaving_another_subscription_is_contraction(
        billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any], kit: Any) -> None:
    first = subscribe(shop["monthly_100"])
    second = subscribe(shop["weekly_10"], customer=first.customer)
    start = billing.now() + timedelta(seconds=1)   # after the sign-ups
    billing.testing.advance(days=2)
    billing.stripe.v1.subscriptions.cancel(second.id)
    [m] = billing.analytics.movements(start, start + timedelta(days=5), interval="week")
    assert (m.contraction, m.churn, m.churned_customers) == (Money(4333, "usd"), Money(0, "usd"), 0)
    billing.stripe.v1.subscriptions.cancel(first.id)
    [m] = billing.analytics.movements(start, start + timedelta(days=5), interval="week")
    assert (m.contraction, m.churn, m.churned_customers) == (Money(0, "usd"), Money(14333, "usd"), 1)


def test_per_seat_tiered_price_counts_its_tiers(billing: Billing, subscribe: Callable[..., Any], kit: Any) -> None:
    """Stripe sends a subscription's price without ``tiers`` unless expanded: the tiers come from the local
    mirror. Graduated: $99 flat for up to 5 seats, then $15 a seat; volume: every seat at its tier's price."""
    sc = billing.stripe.v1
    prod = sc.products.create(params={"name": "Team"})
    graduated = sc.prices.create(params={
        "product": prod.id, "currency": "usd", "recurring": {"interval": "month"}, "billing_scheme": "tiered",
        "tiers_mode": "graduated", "tiers": [{"up_to": 5, "flat_amount": 9900, "unit_amount": 0},
                                             {"up_to": "inf", "unit_amount": 1500}]}).id
    volume = sc.prices.create(params={
        "product": prod.id, "currency": "usd", "recurring": {"interval": "year"}, "billing_scheme": "tiered",
        "tiers_mode": "volume", "tiers": [{"up_to": 10, "unit_amount": 12000},
                                          {"up_to": "inf", "unit_amount": 9600}]}).id
    billing.testing.drain()                                   # the prices reach the local mirror
    probe = sc.subscriptions.create(params={"customer": sc.customers.create().id, "items": [{"price": graduated}],
                                            "payment_behavior": "default_incomplete"})
    assert "tiers" not in probe["items"].data[0].price          # what the sync receives
    sub = subscribe(graduated, quantity=7)
    assert billing.analytics.mrr() == Money(9900 + 2 * 1500, "usd")
    subscribe(volume, quantity=12)                            # 12 x $96 a year = $96 a month
    assert billing.analytics.mrr() == Money(12_900 + 9600, "usd")
    sc.subscriptions.update(sub.id, params={"items": [{"id": sub["items"].data[0].id, "quantity": 4}]})
    assert billing.analytics.mrr() == Money(9900 + 9600, "usd")
    assert [e.cause for e in billing.analytics.ledger(subscription=sub.id)][-1] == "quantity"
