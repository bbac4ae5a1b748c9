"""Insights fixtures: a catalog of three plans with API-call and seat limits and metered overage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billingos import Billing
from billingos.catalog.schemas import Catalog

#: (key, base per seat, included calls, cents per call over, call limit (None: unlimited), seat limit)
PLANS = [("basic", 1000, 1000, 5, 2000, 3), ("pro", 5000, 10_000, 2, 10_000, 10), ("team", 20_000, 0, 0, None, 50)]

CATALOG: dict[str, Any] = {
    "meters": [{"event_name": "api_calls", "display_name": "API calls", "aggregation": "sum"},
               {"event_name": "seats_used", "display_name": "Seats", "aggregation": "last"}],
    "features": [{"key": "api_calls", "name": "API calls", "type": "metered", "meter": "api_calls"},
                 {"key": "seats", "name": "Seats", "type": "metered", "meter": "seats_used"}],
    "products": [
        {"key": key, "name": key.title(),
         "features": [{"key": "api_calls", "limit": "unlimited" if calls is None else calls},
                      {"key": "seats", "limit": seats}],
         "prices": [{"lookup_key": f"{key}_monthly", "currency": "usd", "unit_amount": base, "interval": "month"}]
         + ([] if not over else [{"lookup_key": f"{key}_calls", "currency": "usd", "interval": "month",
                                  "usage_type": "metered", "meter": "api_calls", "tiers_mode": "graduated",
                                  "tiers": [{"up_to": included, "unit_amount": 0},
                                            {"up_to": "inf", "unit_amount": over}]}])}
        for key, base, included, over, calls, seats in PLANS
    ],
}


@pytest.fixture
def shop(billing: Billing) -> Billing:
    billing.testing.connect()
    assert billing.testing.outbox.messages == []           # capture mail from the start
    billing.catalog.sync(Catalog.model_validate(CATALOG))
    return billing


def subscribe(billing: Billing, owner: str, plan: str, seats: int = 1) -> Any:
    customer = billing.customers.create(owner_id=owner, email=f"{owner}@b.co")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    billing.customers.update(owner, default_payment_method=pm.id)
    items = [{"price": f"{plan}_monthly", "quantity": seats}]
    if any(k == plan and over for k, _, _, over, _, _ in PLANS):
        items.append({"price": f"{plan}_calls"})
    return billing.subscriptions.create(owner, items=items)


@pytest.fixture
def captured() -> Iterator[dict[str, list[dict[str, Any]]]]:
    from billingos import signals
    seen: dict[str, list[dict[str, Any]]] = {"churn": [], "upgrade": []}

    def churn(sender: Any, **kw: Any) -> None:
        seen["churn"].append(kw)

    def upgrade(sender: Any, **kw: Any) -> None:
        seen["upgrade"].append(kw)

    signals.churn_risk_detected.connect(churn, weak=False)
    signals.upgrade_opportunity_detected.connect(upgrade, weak=False)
    yield seen
    signals.churn_risk_detected.disconnect(churn)
    signals.upgrade_opportunity_detected.disconnect(upgrade)
