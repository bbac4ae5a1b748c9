"""The read API, and the sync_* functions that webhooks will share with catalog.sync."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from billingos.catalog import (
    FeatureInfo,
    PriceInfo,
    ProductInfo,
    sync_plan_features,
    sync_price,
    sync_product,
)
from billingos.errors import InvalidInputError, NotFoundError

from .conftest import base_catalog

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def _price(pid: str, key: str | None, active: bool = True, **kw) -> dict:
    return {
        "id": pid,
        "object": "price",
        "lookup_key": key,
        "product": "prod_x",
        "active": active,
        "currency": "usd",
        "type": "recurring",
        "billing_scheme": "per_unit",
        "unit_amount": 100,
        "unit_amount_decimal": "100",
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed", "meter": None},
        "metadata": {},
        "created": 1768478400,
        **kw,
    }


def test_reads_return_frozen_snapshots(billing) -> None:
    billing.catalog.sync(base_catalog())
    product = billing.catalog.product("pro")
    assert isinstance(product, ProductInfo)
    assert (product.key, product.name, product.description, product.active) == (
        "pro",
        "Pro",
        "For teams",
        True,
    )
    assert billing.catalog.product(product.id) == product
    with pytest.raises(ValidationError):
        product.name = "x"  # type: ignore[misc]
    price = billing.catalog.price("pro_monthly")
    assert isinstance(price, PriceInfo)
    assert price.unit_price is not None and str(price.unit_price) == "$29.00"
    assert price.recurring and price.interval == "month"
    assert billing.catalog.price(price.id) == price
    assert [p.lookup_key for p in billing.catalog.prices()] == [
        "basic_monthly",
        "pro_monthly",
        "pro_yearly",
        "pro_api",
    ]
    assert [p.lookup_key for p in billing.catalog.prices(product="basic")] == ["basic_monthly"]
    assert [p.lookup_key for p in billing.catalog.prices(product.id)] == [
        "pro_monthly",
        "pro_yearly",
        "pro_api",
    ]
    features = billing.catalog.features()
    assert all(isinstance(f, FeatureInfo) for f in features)
    assert [(f.key, f.type) for f in features] == [("api_calls", "metered"), ("export", "boolean")]
    assert [m.event_name for m in billing.catalog.meters()] == ["api_calls"]


@pytest.mark.parametrize(
    "call,arg",
    [
        ("price", "nope"),
        ("product", "nope"),
        ("plan_features", "nope"),
        ("feature", "nope"),
        ("meter", "nope"),
    ],
)
def test_unknown_keys_are_not_found(billing, call: str, arg: str) -> None:
    billing.catalog.sync(base_catalog())
    with pytest.raises(NotFoundError, match="nope"):
        getattr(billing.catalog, call)(arg)
    with pytest.raises(InvalidInputError):
        getattr(billing.catalog, call)("")


def test_prices_of_unknown_product(billing) -> None:
    with pytest.raises(NotFoundError):
        billing.catalog.prices(product="ghost")


def test_sync_price_transfers_lookup_key_in_any_order(billing) -> None:
    """Webhooks may deliver the new price (with the key) before the old one (without it)."""
    old, new = _price("price_old", "pro_monthly"), _price("price_new", "pro_monthly", unit_amount=200)
    with billing.transaction() as s:
        sync_price(s, old, now=NOW)
    with billing.transaction() as s:
        sync_price(s, new, now=NOW)  # takes the key
        sync_price(s, {**old, "lookup_key": None, "active": False}, now=NOW)
    assert billing.catalog.price("pro_monthly").id == "price_new"
    assert billing.catalog.price("price_old").lookup_key is None
    assert billing.catalog.price("price_old").active is False


def test_sync_price_keeps_tiers_when_payload_has_none(billing) -> None:
    tiers = [
        {
            "up_to": 5,
            "unit_amount": 100,
            "unit_amount_decimal": "100",
            "flat_amount": None,
            "flat_amount_decimal": None,
        },
        {
            "up_to": None,
            "unit_amount": None,
            "unit_amount_decimal": "0.5",
            "flat_amount": None,
            "flat_amount_decimal": None,
        },
    ]
    tiered = _price(
        "price_t",
        "t",
        billing_scheme="tiered",
        tiers_mode="volume",
        unit_amount=None,
        unit_amount_decimal=None,
        tiers=tiers,
    )
    with billing.transaction() as s:
        sync_price(s, tiered, now=NOW)
    event_payload = {k: v for k, v in tiered.items() if k != "tiers"} | {"nickname": "T"}
    with billing.transaction() as s:
        sync_price(s, event_payload, now=NOW)  # events carry no tiers
    price = billing.catalog.price("t")
    assert price.tiers == tiers and price.nickname == "T"


def test_sync_price_stores_exact_decimals(billing) -> None:
    with billing.transaction() as s:
        sync_price(s, _price("price_d", "d", unit_amount=None, unit_amount_decimal="0.000000000001"), now=NOW)
    assert billing.catalog.price("d").unit_amount_decimal == Decimal("0.000000000001")


def test_sync_product_refreshes_plan_limits_from_metadata(billing) -> None:
    product = {
        "id": "prod_x",
        "object": "product",
        "name": "X",
        "active": True,
        "metadata": {"billingos_key": "x", "billingos_limit.api_calls": "500/day"},
    }
    attached = [
        {
            "id": "prodft_1",
            "object": "product_feature",
            "entitlement_feature": {
                "id": "feat_1",
                "object": "entitlements.feature",
                "lookup_key": "api_calls",
                "name": "API",
                "active": True,
                "metadata": {},
            },
        }
    ]
    with billing.transaction() as s:
        sync_product(s, product, now=NOW)
        sync_plan_features(s, product, attached, now=NOW)
    [pf] = billing.catalog.plan_features("x")
    assert (pf.limit, pf.reset, pf.rollover) == (500, "day", False)
    changed = {
        **product,
        "metadata": {**product["metadata"], "billingos_limit.api_calls": "900/week/rollover"},
    }
    with billing.transaction() as s:  # e.g. a product.updated webhook
        sync_product(s, changed, now=NOW)
    [pf] = billing.catalog.plan_features("x")
    assert (pf.limit, pf.reset, pf.rollover) == (900, "week", True)
    with billing.transaction() as s:
        sync_product(s, {"id": "prod_x", "object": "product", "deleted": True}, now=NOW)
    with pytest.raises(NotFoundError):
        billing.catalog.product("x")
