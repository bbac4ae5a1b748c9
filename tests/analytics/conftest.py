from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from billingos import Billing


@pytest.fixture
def shop(billing: Billing) -> dict[str, str]:
    """Prices straight in Stripe (the emulator)."""
    sc = billing.stripe.v1
    prod = sc.products.create(params={"name": "SaaS"})
    out = {}
    for key, params in {
        "monthly_100": {"unit_amount": 10000, "recurring": {"interval": "month"}},
        "yearly_600": {"unit_amount": 60000, "recurring": {"interval": "year"}},
        "weekly_10": {"unit_amount": 1000, "recurring": {"interval": "week"}},
        "quarterly_300": {"unit_amount": 30000, "recurring": {"interval": "month", "interval_count": 3}},
        "free": {"unit_amount": 0, "recurring": {"interval": "month"}},
        "gold_yearly": {"unit_amount": 200000, "recurring": {"interval": "year"}},
        "silver_monthly": {"unit_amount": 5000, "recurring": {"interval": "month"}},
        "eur_monthly": {"unit_amount": 5000, "recurring": {"interval": "month"}, "currency": "eur"},
    }.items():
        out[key] = sc.prices.create(params={"product": prod.id, "currency": "usd", **params}).id
    meter = sc.billing.meters.create(params={"display_name": "API", "event_name": "api_calls",
                                             "default_aggregation": {"formula": "sum"}})
    out["metered"] = sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 5,
                                              "recurring": {"interval": "month", "usage_type": "metered",
                                                            "meter": meter.id}}).id
    return out


@pytest.fixture
def subscribe(billing: Billing) -> Callable[..., Any]:
    """``subscribe(price, n=1, quantity=1, card=True, **params)``: a customer (with a card) and subscription."""
    sc = billing.stripe.v1
    counter = iter(range(10**6))

    def make(price: str | list[dict[str, Any]], *, customer: str | None = None, card: bool = True,
             quantity: int = 1, **params: Any) -> Any:
        if customer is None:
            n = next(counter)
            customer = sc.customers.create(params={"email": f"c{n}@b.co",
                                                   "metadata": {"billingos_owner_id": f"org_{n}"}}).id
            if card:
                pm = sc.payment_methods.attach("pm_card_visa", params={"customer": customer})
                sc.customers.update(customer, params={"invoice_settings": {"default_payment_method": pm.id}})
        items = price if isinstance(price, list) else [{"price": price, "quantity": quantity}]
        return sc.subscriptions.create(params={"customer": customer, "items": items, **params})
    return make


@pytest.fixture
def kit(billing: Billing) -> Any:
    """The test kit, delivering the emulator's webhooks to billing as they happen."""
    billing.testing.connect()
    return billing.testing
