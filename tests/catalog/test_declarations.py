"""Declarations: every bad input is an InvalidInputError naming the culprit, and nothing is written."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from billingos.catalog import Catalog, Feature, Meter, PlanFeature, Price, Product, product_stripe_id
from billingos.errors import InvalidInputError

from .conftest import base_catalog, row_counts, writes


def _price(**kw: Any) -> dict[str, Any]:
    return {"lookup_key": "p1", "currency": "usd", "unit_amount": 100, "interval": "month", **kw}


def _with_price(**kw: Any) -> dict[str, Any]:
    data = base_catalog()
    data["products"][0]["prices"].append(_price(lookup_key="bad_price", **kw))
    return data


def _mutate(fn: Any) -> dict[str, Any]:
    data = copy.deepcopy(base_catalog())
    fn(data)
    return data


BAD = {
    "duplicate product key": (
        _mutate(lambda d: d["products"].append({"key": "pro", "name": "Again"})),
        "duplicate product 'pro'",
    ),
    "duplicate lookup key": (
        _mutate(lambda d: d["products"][0]["prices"].append(_price(lookup_key="pro_monthly"))),
        "duplicate price lookup_key 'pro_monthly'",
    ),
    "duplicate feature": (
        _mutate(lambda d: d["features"].append({"key": "export", "name": "X"})),
        "duplicate feature 'export'",
    ),
    "duplicate meter": (
        _mutate(lambda d: d["meters"].append({"event_name": "api_calls", "display_name": "X"})),
        "duplicate meter event_name 'api_calls'",
    ),
    "undeclared meter on price": (
        _with_price(usage_type="metered", meter="storage"),
        "product 'basic' → price 'bad_price': meter 'storage' is not declared",
    ),
    "undeclared meter on feature": (
        _mutate(
            lambda d: d["features"].append({"key": "gb", "name": "GB", "type": "metered", "meter": "storage"})
        ),
        "feature 'gb': meter 'storage'",
    ),
    "metered feature without limit": (
        _mutate(lambda d: d["products"][0].update(features=["api_calls"])),
        "product 'basic' → feature 'api_calls': a metered feature needs a limit",
    ),
    "limit on boolean feature": (
        _mutate(
            lambda d: d["products"][1].update(
                features=[{"key": "export", "limit": 5}, {"key": "api_calls", "limit": 1}]
            )
        ),
        "product 'pro' → feature 'export': a boolean feature takes no limit",
    ),
    "undeclared feature": (
        _mutate(lambda d: d["products"][0].update(features=["sso"])),
        "product 'basic' → feature 'sso': the feature is not declared",
    ),
    "float amount": (
        _with_price(unit_amount=9.99),
        "product 'basic' → price 'bad_price': unit_amount: 9.99 is a float",
    ),
    "float decimal amount": (
        _with_price(unit_amount=None, unit_amount_decimal=0.5),
        "unit_amount_decimal: 0.5 is a float",
    ),
    "unknown currency": (_with_price(currency="xyz"), "price 'bad_price': currency: unknown currency 'xyz'"),
    "negative amount": (_with_price(unit_amount=-1), "price 'bad_price': unit_amount must not be negative"),
    "negative decimal": (
        _with_price(unit_amount=None, unit_amount_decimal="-0.5"),
        "must be a finite amount >= 0",
    ),
    "too precise decimal": (
        _with_price(unit_amount=None, unit_amount_decimal="0.0000000000001"),
        "more than 12 decimal places",
    ),
    "NaN decimal": (_with_price(unit_amount=None, unit_amount_decimal="NaN"), "price 'bad_price'"),
    "interval_count beyond Stripe's maximum": (_with_price(interval_count=37), "interval_count must be 1-36"),
    "weekly interval_count too large": (_with_price(interval="week", interval_count=157), "must be 1-156"),
    "yearly interval_count too large": (_with_price(interval="year", interval_count=4), "must be 1-3"),
    "tiers without a final inf tier": (
        _with_price(
            unit_amount=None,
            tiers_mode="graduated",
            tiers=[{"up_to": 10, "unit_amount": 5}, {"up_to": 20, "unit_amount": 4}],
        ),
        "the last tier must have up_to = 'inf'",
    ),
    "tiers not increasing": (
        _with_price(
            unit_amount=None,
            tiers_mode="volume",
            tiers=[
                {"up_to": 10, "unit_amount": 5},
                {"up_to": 10, "unit_amount": 4},
                {"up_to": "inf", "unit_amount": 3},
            ],
        ),
        "tier bounds must increase strictly",
    ),
    "tiers without tiers_mode": (
        _with_price(unit_amount=None, tiers=[{"up_to": "inf", "unit_amount": 5}]),
        "tiered prices need tiers_mode",
    ),
    "two amounts": (_with_price(unit_amount_decimal="1.5"), "give exactly one of unit_amount"),
    "no amount": (_with_price(unit_amount=None), "give exactly one of unit_amount"),
    "metered without meter": (_with_price(usage_type="metered"), "metered prices need a meter"),
    "meter on licensed price": (_with_price(meter="api_calls"), "meter is only for usage_type = 'metered'"),
    "trial on a one-time price": (
        _with_price(interval=None, trial_period_days=7),
        "trial_period_days needs a recurring",
    ),
    "transform with tiers": (
        _with_price(
            unit_amount=None,
            tiers_mode="volume",
            tiers=[{"up_to": "inf", "unit_amount": 1}],
            transform_quantity={"divide_by": 10},
        ),
        "transform_quantity cannot be combined",
    ),
    "unknown key on price": (_with_price(amount=5), "price 'bad_price': unknown key 'amount'"),
    "unknown key at top": ({**base_catalog(), "plans": []}, "unknown key 'plans'"),
    "reserved metadata": (
        _mutate(lambda d: d["products"][0].update(metadata={"billingos_key": "x"})),
        "keys starting with 'billingos_' are reserved",
    ),
    "bad product key": (
        _mutate(lambda d: d["products"][0].update(key="has space")),
        "key 'has space' must be",
    ),
    "metered feature key too long": (
        _mutate(lambda d: d["features"].append({"key": "a" * 25, "name": "Long", "type": "metered"})),
        "metered feature keys are at most 24",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_declarations_raise_and_write_nothing(billing, emulator, name: str) -> None:
    data, expected = BAD[name]
    with pytest.raises(InvalidInputError) as exc:
        billing.catalog.sync(data)
    assert expected in str(exc.value)
    assert not isinstance(exc.value, ValidationError)
    assert writes(emulator) == []
    assert emulator.request_log == []  # not even a read: validation comes first
    assert set(row_counts(billing).values()) == {0}


def test_messages_name_the_culprit_in_code_declarations() -> None:
    with pytest.raises(InvalidInputError, match=r"^price 'x': unit_amount: 1\.5 is a float"):
        Price(lookup_key="x", currency="usd", unit_amount=1.5)
    with pytest.raises(
        InvalidInputError, match=r"^product 'p' → price 'y': currency: unknown currency 'eurx'"
    ):
        Product(key="p", name="P", prices=[{"lookup_key": "y", "currency": "eurx", "unit_amount": 1}])
    with pytest.raises(InvalidInputError, match="feature 'f'"):
        Feature(key="f", name="F", type="boolean", meter="m")
    with pytest.raises(InvalidInputError, match="aggregation"):
        Meter(event_name="e", display_name="E", aggregation="max")
    with pytest.raises(InvalidInputError, match="limit must not be negative"):
        PlanFeature(key="api_calls", limit=-1)


def test_declarations_are_frozen_and_exact() -> None:
    price = Price(lookup_key="x", currency="USD", unit_amount_decimal="0.125", interval="month")
    assert price.currency == "usd"
    assert price.unit_amount_decimal == Decimal("0.125")
    assert isinstance(price.unit_amount_decimal, Decimal)
    with pytest.raises(ValidationError):
        price.unit_amount = 5  # type: ignore[misc]
    product = Product(key="pro", name="Pro", features=["export", {"key": "api_calls", "limit": "unlimited"}])
    assert [f.key for f in product.features] == ["export", "api_calls"]
    assert product.features[1].limit == "unlimited"
    assert product.id == product_stripe_id("pro")


def test_product_ids_are_deterministic_and_safe() -> None:
    assert product_stripe_id("pro") == product_stripe_id("pro")
    ids = {product_stripe_id(k) for k in ("a.b", "a_b", "a:b", "a-b", "A_B")}
    assert len(ids) == 5  # keys that slug alike still differ
    for key in ("a.b", "team:eu", "x" * 64, "team.eu-west"):
        pid = product_stripe_id(key)
        assert pid.startswith("prod_")
        assert all(c.isalnum() or c == "_" for c in pid)
        assert len(pid) <= 60
    assert Product(key="pro", name="Pro", stripe_id="prod_existing").id == "prod_existing"


def test_valid_catalog_round_trip(catalog: Catalog) -> None:
    assert [p.key for p in catalog.products] == ["basic", "pro"]
    assert catalog.product("pro").features[1].metadata_value() == "10000/month/rollover"
    assert (
        PlanFeature.from_metadata("api_calls", "10000/month/rollover") == catalog.product("pro").features[1]
    )
    assert Catalog.model_validate(catalog.model_dump()) == catalog
