from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from billingos.catalog import Catalog
from billingos.catalog.models import (
    BillingFeature,
    BillingMeter,
    BillingPlanFeature,
    BillingPrice,
    BillingProduct,
)


def base_catalog(**changes: Any) -> dict[str, Any]:
    """A small catalog as plain data: one meter, a boolean and a metered feature, Basic and Pro."""
    data: dict[str, Any] = {
        "meters": [{"event_name": "api_calls", "display_name": "API calls"}],
        "features": [
            {"key": "export", "name": "Export"},
            {"key": "api_calls", "name": "API calls", "type": "metered", "meter": "api_calls"},
        ],
        "products": [
            {
                "key": "basic",
                "name": "Basic",
                "features": [{"key": "api_calls", "limit": 1000}],
                "prices": [
                    {
                        "lookup_key": "basic_monthly",
                        "currency": "usd",
                        "unit_amount": 900,
                        "interval": "month",
                    }
                ],
            },
            {
                "key": "pro",
                "name": "Pro",
                "description": "For teams",
                "features": [
                    "export",
                    {"key": "api_calls", "limit": 10000, "reset": "month", "rollover": True},
                ],
                "prices": [
                    {
                        "lookup_key": "pro_monthly",
                        "currency": "usd",
                        "unit_amount": 2900,
                        "interval": "month",
                    },
                    {"lookup_key": "pro_yearly", "currency": "usd", "unit_amount": 29000, "interval": "year"},
                    {
                        "lookup_key": "pro_api",
                        "currency": "usd",
                        "unit_amount_decimal": "0.25",
                        "interval": "month",
                        "usage_type": "metered",
                        "meter": "api_calls",
                    },
                ],
            },
        ],
    }
    data.update(changes)
    return data


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(**base_catalog())


def writes(emulator: Any, since: int = 0) -> list[tuple[str, str, int]]:
    """Every non-GET request the emulator saw after index ``since``."""
    return [r for r in emulator.request_log[since:] if r[0] != "GET"]


def row_counts(billing: Any) -> dict[str, int]:
    with billing.session_factory() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (BillingProduct, BillingPrice, BillingFeature, BillingPlanFeature, BillingMeter)
        }
