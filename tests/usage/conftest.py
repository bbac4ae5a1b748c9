"""Usage fixtures: a catalog with metered meters and plans, synced into the emulator and the local mirror."""

from __future__ import annotations

from typing import Any

import pytest

from billingos import Billing
from billingos.catalog.schemas import Catalog

CATALOG: dict[str, Any] = {
    "meters": [
        {"event_name": "api_calls", "display_name": "API calls", "aggregation": "sum"},
        {"event_name": "seats_peak", "display_name": "Peak seats", "aggregation": "last"},
        {"event_name": "logins", "display_name": "Logins", "aggregation": "count"},
    ],
    "features": [
        {"key": "api_calls", "name": "API calls", "type": "metered", "meter": "api_calls"},
    ],
    "products": [
        {"key": "pro", "name": "Pro",
         "features": [{"key": "api_calls", "limit": 1000}],
         "prices": [
             {"lookup_key": "pro_monthly", "currency": "usd", "unit_amount": 2000, "interval": "month"},
             {"lookup_key": "pro_api_calls", "currency": "usd", "interval": "month", "usage_type": "metered",
              "meter": "api_calls", "tiers_mode": "graduated",
              "tiers": [{"up_to": 1000, "unit_amount": 0, "flat_amount": 500},
                        {"up_to": "inf", "unit_amount_decimal": "0.5"}]},
         ]},
    ],
}


@pytest.fixture
def catalog(billing: Billing) -> Billing:
    billing.catalog.sync(Catalog.model_validate(CATALOG))
    return billing
