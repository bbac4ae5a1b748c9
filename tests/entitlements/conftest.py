"""Plans with Stripe entitlement features, set up through the real SDK against the emulator.

The features are attached with Stripe's own entitlements API (no catalog, no billingos-only setup):
``export`` and ``sso`` are boolean; ``api_calls`` is metered, its per-plan limit in product metadata
(``billingos_limit.api_calls``) and its default in the feature's metadata (``billingos_limit``).
Subscriptions reach billingos through ``billing.subscriptions.sync`` with Stripe-shaped objects, the
same path webhooks take.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from billingos import Billing

_ids = itertools.count(1)


@dataclass
class Plans:
    billing: Billing
    features: dict[str, str] = field(default_factory=dict)    # lookup_key -> feat id
    products: dict[str, str] = field(default_factory=dict)    # plan -> prod id
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)   # plan -> price object

    def customer(self, owner_id: str) -> str:
        return self.billing.customers.create(owner_id=owner_id, email=f"{owner_id}@example.com").id

    def subscription(self, customer: str, plan: str | list[str], *, status: str = "active",
                     sub_id: str | None = None, cancel_at: datetime | None = None,
                     period_start: datetime | None = None, period_days: int = 30) -> dict[str, Any]:
        """A Stripe-shaped subscription object for ``plan`` (or several plans as items)."""
        now = self.billing.now()
        start = period_start or now - timedelta(days=1)
        end = start + timedelta(days=period_days)
        plans = [plan] if isinstance(plan, str) else plan
        sub_id = sub_id or f"sub_test{next(_ids):06d}"
        items = [{"id": f"si_{sub_id[4:]}{n}", "object": "subscription_item", "price": self.prices[p],
                  "quantity": 1, "current_period_start": int(start.timestamp()),
                  "current_period_end": int(end.timestamp())} for n, p in enumerate(plans)]
        return {"id": sub_id, "object": "subscription", "customer": customer, "status": status,
                "items": {"object": "list", "data": items}, "cancel_at_period_end": cancel_at is not None,
                "cancel_at": int(cancel_at.timestamp()) if cancel_at else None, "canceled_at": None,
                "ended_at": None, "created": int(now.timestamp()), "currency": "usd", "metadata": {},
                "livemode": False, "collection_method": "charge_automatically"}

    def sync(self, obj: dict[str, Any], **changes: Any) -> Any:
        return self.billing.subscriptions.sync({**obj, **changes})


@pytest.fixture
def plans(billing: Billing) -> Iterator[Plans]:
    v1 = billing.stripe.v1
    out = Plans(billing)
    for key, meta in [("export", {}), ("sso", {}),
                      ("api_calls", {"billingos_type": "metered", "billingos_limit": "50/billing_period"})]:
        out.features[key] = v1.entitlements.features.create(
            params={"name": key.title(), "lookup_key": key, "metadata": meta}).id
    spec = {"basic": ([], {"billingos_limit.api_calls": "100/billing_period"}),
            "pro": (["export"], {"billingos_limit.api_calls": "1000/billing_period"}),
            "team": (["export", "sso"], {"billingos_limit.api_calls": "unlimited/billing_period"}),
            "addon": ([], {})}
    for plan, (keys, meta) in spec.items():
        prod = v1.products.create(params={"name": plan.title(), "metadata": meta})
        out.products[plan] = prod.id
        for key in [*keys, "api_calls"]:
            v1.products.features.create(prod.id, params={"entitlement_feature": out.features[key]})
        price = v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 1000,
                                         "recurring": {"interval": "month"}, "lookup_key": f"{plan}_monthly"})
        out.prices[plan] = price.to_dict()
    yield out
    billing.entitlements.close()
