"""The definitions that are choices (ANALYTICS.md): each setting changes the figures as documented."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock, Money
from billingos.emulator import Emulator
from tests.conftest import WEBHOOK_SECRET


def _billing(engine: Engine, emulator: Emulator, clock: FrozenClock, **analytics: Any) -> Billing:
    billing = Billing(engine=engine, emulator=emulator, clock=clock, webhook_secrets=[WEBHOOK_SECRET],
                      analytics=analytics)
    billing.testing.connect()
    return billing


def _customer_with_sub(billing: Billing, amount: int = 10000) -> Any:
    sc = billing.stripe.v1
    prod = sc.products.create(params={"name": "P"})
    price = sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": amount,
                                     "recurring": {"interval": "month"}}).id
    cust = sc.customers.create(params={"email": "s@b.co"}).id
    pm = sc.payment_methods.attach("pm_card_visa", params={"customer": cust})
    sc.customers.update(cust, params={"invoice_settings": {"default_payment_method": pm.id}})
    return sc.subscriptions.create(params={"customer": cust, "items": [{"price": price}]})


def test_signup_and_churn_in_one_interval_net_or_gross(engine: Engine, emulator: Emulator,
                                                       clock: FrozenClock) -> None:
    billing = _billing(engine, emulator, clock, same_interval_signup_churn="gross")
    sub = _customer_with_sub(billing)                               # Jan 15
    billing.testing.advance(days=5)
    billing.stripe.v1.subscriptions.cancel(sub.id)                  # Jan 20
    [jan] = billing.analytics.movements(date(2026, 1, 1), date(2026, 2, 1))
    assert (jan.new, jan.churn, jan.new_customers, jan.churned_customers) == (Money(10000, "usd"),
                                                                           Money(10000, "usd"), 1, 1)
    assert jan.mrr_end - jan.mrr_start == jan.net_new
    net = Billing(engine=engine, emulator=emulator, clock=clock)    # the default, on the same ledger
    [jan] = net.analytics.movements(date(2026, 1, 1), date(2026, 2, 1))
    assert (jan.new, jan.churn, jan.new_customers, jan.churned_customers) == (Money(0, "usd"), Money(0, "usd"),
                                                                           0, 0)


def test_cancel_at_period_end_counts_until_the_end_or_when_scheduled(engine: Engine, emulator: Emulator,
                                                                      clock: FrozenClock) -> None:
    billing = _billing(engine, emulator, clock, cancel_counts_at="scheduled")
    sub = _customer_with_sub(billing)
    billing.testing.advance(days=2)
    billing.stripe.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert billing.analytics.mrr() == Money(0, "usd")
    assert billing.analytics.ledger()[-1].cause == "cancel_scheduled"
    billing.stripe.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert billing.analytics.mrr() == Money(10000, "usd")
    assert billing.analytics.ledger()[-1].cause == "reactivated"
