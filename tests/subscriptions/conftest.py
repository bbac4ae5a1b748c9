from __future__ import annotations

from typing import Any

import pytest

from billingos import Billing


@pytest.fixture
def plans(billing: Billing) -> dict[str, str]:
    """Three monthly plans and a yearly one, created straight in Stripe with lookup keys."""
    sc = billing.stripe.v1
    prod = sc.products.create(params={"name": "SaaS"})
    out = {}
    for key, amount, interval in [("basic_monthly", 1000, "month"), ("pro_monthly", 3000, "month"),
                                  ("team_monthly", 9000, "month"), ("pro_yearly", 30000, "year")]:
        price = sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": amount,
                                         "lookup_key": key, "recurring": {"interval": interval}})
        out[key] = price.id
    return out


@pytest.fixture
def card_customer(billing: Billing) -> Any:
    c = billing.customers.create(owner_id="org_card", email="card@b.co")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
    return billing.customers.update("org_card", default_payment_method=pm.id)


@pytest.fixture
def kit(billing: Billing) -> Any:
    billing.testing.connect()
    return billing.testing
