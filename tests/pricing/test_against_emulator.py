"""``billingos.pricing`` against an independent oracle: the emulator's own rating (``billingos.emulator.rating``,
written from Stripe's documentation, sharing no code with the library), the invoices the emulator makes
through the real SDK, and Stripe's documented worked examples. Each side is checked against the docs too,
so a disagreement says which one is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billingos import pricing
from billingos.clock import FrozenClock
from billingos.emulator import Emulator
from billingos.emulator import rating as oracle  # public: the emulator's pricing, an independent oracle

T0 = datetime(2026, 1, 15, 12, tzinfo=UTC)
DAY = 86400

# --- Stripe's documented examples, for both implementations ---------------------------------------
# https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing ("Set up tiered pricing"):
# Typographic's tiers: fonts 1-5 at 7 USD, 6-10 at 6.5 USD, 11+ at 6 USD. Volume: "a customer with 5 fonts
# is charged 35 USD (5 × 7 USD) ... 6 fonts ... 39 USD (6 × 6.5 USD)"; the table: 1 -> 7 USD, 5 -> 35 USD,
# 6 -> 39 USD, 20 -> 120 USD, 25 -> 150 USD. Graduated: "5 fonts result in the same charge as volume-based
# pricing: 35 USD"; beyond, each tier's units at the tier's price, summed (6 -> 35 + 6.5 = 41.50 USD).
FONTS = [{"up_to": 5, "unit_amount": 700}, {"up_to": 10, "unit_amount": 650}, {"up_to": "inf", "unit_amount": 600}]
VOLUME_TABLE = [(1, 700), (5, 3500), (6, 3900), (20, 12000), (25, 15000)]
GRADUATED_RULE = [(1, 700), (5, 3500), (6, 4150), (20, 3500 + 3250 + 6000), (25, 3500 + 3250 + 9000)]


def _tiered(mode: str, tiers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"billing_scheme": "tiered", "tiers_mode": mode, "tiers": tiers}


@pytest.mark.parametrize(("quantity", "cents"), VOLUME_TABLE)
def test_volume_example(quantity: int, cents: int) -> None:
    price = _tiered("volume", FONTS)
    assert pricing.amount_for(price, quantity) == oracle.price_amount(price, quantity) == cents


@pytest.mark.parametrize(("quantity", "cents"), GRADUATED_RULE)
def test_graduated_example(quantity: int, cents: int) -> None:
    price = _tiered("graduated", FONTS)
    assert pricing.amount_for(price, quantity) == oracle.price_amount(price, quantity) == cents


def test_decimal_amount_example() -> None:
    # https://stripe.com/docs/billing/subscriptions/decimal-amounts: "unit_amount_decimal = 0.05 and ...
    # quantity = 30 ... 0.05 * 30 = 1.5, which is then rounded up to 2 cents" (rounding per line item).
    price = {"billing_scheme": "per_unit", "unit_amount_decimal": "0.05", "unit_amount": None}
    assert pricing.amount_for(price, 30) == oracle.price_amount(price, 30) == 2


def test_proration_example() -> None:
    # https://docs.stripe.com/billing/subscriptions/prorations: "If a customer upgrades from a 10 USD monthly
    # plan to a 20 USD option halfway through the billing period, the customer is billed an additional 5 USD":
    # unused time on the 10 USD plan -5 USD, remaining time on the 20 USD plan +10 USD.
    start, end = 1_775_001_600, 1_775_001_600 + 30 * DAY
    half = start + 15 * DAY
    lines = pricing.change_lines(1000, 2000, start, end, half)
    assert (lines.credit, lines.debit, lines.net) == (-500, 1000, 500)
    assert (-oracle.prorated(1000, (start, end), half), oracle.prorated(2000, (start, end), half)) == (-500, 1000)


def test_package_example() -> None:
    # https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities: usage is divided by
    # ``divide_by`` "and round the result up or down" before the price applies: 61 minutes billed per
    # started hour (divide_by=60, up) at 10 USD is 2 hours, 20 USD; rounding down bills 1 hour.
    up = {"billing_scheme": "per_unit", "unit_amount": 1000, "transform_quantity": {"divide_by": 60, "round": "up"}}
    down = {**up, "transform_quantity": {"divide_by": 60, "round": "down"}}
    assert pricing.amount_for(up, 61) == oracle.price_amount(up, 61) == 2000
    assert pricing.amount_for(down, 61) == oracle.price_amount(down, 61) == 1000


# --- random prices: the library and the oracle agree -----------------------------------------------
DECIMALS = st.one_of(st.decimals(min_value=0, max_value=100_000, places=4, allow_nan=False, allow_infinity=False),
                     st.sampled_from(["0.5", "2.5", "12.5", "0.25", "0.125"]))      # halves: where rounding shows
AMOUNT = st.one_of(st.integers(0, 100_000).map(lambda n: {"unit_amount": n, "unit_amount_decimal": str(n)}),
                   DECIMALS.map(lambda d: {"unit_amount": None, "unit_amount_decimal": str(d)}))


@st.composite
def tiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    bounds = sorted(draw(st.sets(st.integers(1, 5000), min_size=0, max_size=4)))
    out = []
    for up_to in [*bounds, "inf"]:
        unit = draw(st.one_of(st.none(), DECIMALS.map(str)))
        flat = draw(st.one_of(st.none(), st.integers(0, 50_000))) if unit is not None else draw(
            st.integers(0, 50_000))
        out.append({"up_to": up_to, "unit_amount_decimal": unit, "unit_amount": None,
                    "flat_amount": flat, "flat_amount_decimal": None if flat is None else str(flat)})
    return out


@st.composite
def prices(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["per_unit", "package", "graduated", "volume"]))
    if kind in ("graduated", "volume"):
        return _tiered(kind, draw(tiers()))
    price: dict[str, Any] = {"billing_scheme": "per_unit", **draw(AMOUNT)}
    if kind == "package":
        price["transform_quantity"] = {"divide_by": draw(st.integers(1, 1000)),
                                       "round": draw(st.sampled_from(["up", "down"]))}
    return price


@given(prices(), st.one_of(st.integers(0, 50), st.integers(0, 10**7)))
def test_library_rates_every_price_as_the_oracle_does(price: dict[str, Any], quantity: int) -> None:
    assert pricing.amount_for(price, quantity) == oracle.price_amount(price, quantity)


@given(st.integers(0, 10**8), st.integers(0, 10**8), st.integers(1, 400 * DAY), st.data())
def test_library_prorates_as_the_oracle_does(old: int, new: int, length: int, data: st.DataObject) -> None:
    start = 1_767_225_600
    at = data.draw(st.integers(start, start + length))
    lines = pricing.change_lines(old, new, start, start + length, at)
    assert lines.credit == -oracle.prorated(old, (start, start + length), at)
    assert lines.debit == oracle.prorated(new, (start, start + length), at)
    assert oracle.unused_share((start, start + length), at) == pricing.proration_fraction(start, start + length, at)


# --- the emulator's invoices, made through the real SDK --------------------------------------------
def _catalog_price(client: Any, price: dict[str, Any]) -> Any:
    """Create ``price`` as a monthly recurring price in the emulator; returns it with its tiers."""
    params: dict[str, Any] = {"product_data": {"name": "Seats"}, "currency": "usd",
                              "recurring": {"interval": "month"}, "expand": ["tiers"]}
    if price["billing_scheme"] == "tiered":
        params.update(billing_scheme="tiered", tiers_mode=price["tiers_mode"], tiers=[
            {k: v for k, v in {"up_to": t["up_to"], "unit_amount_decimal": t["unit_amount_decimal"],
                               "flat_amount": t["flat_amount"]}.items() if v is not None} for t in price["tiers"]])
    else:
        params["unit_amount_decimal"] = price["unit_amount_decimal"]
        if price.get("transform_quantity"):
            params["transform_quantity"] = price["transform_quantity"]
    return client.v1.prices.create(params=params)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prices(), st.integers(0, 100_000))
def test_the_library_matches_the_emulators_first_invoice(price: dict[str, Any], quantity: int) -> None:
    em = Emulator(clock=FrozenClock(T0))
    client = em.client()
    created = _catalog_price(client, price)
    cust = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    sub = client.v1.subscriptions.create(params={
        "customer": cust.id, "items": [{"price": created.id, "quantity": quantity}],
        "default_payment_method": client.v1.payment_methods.list(params={"customer": cust.id}).data[0].id,
        "expand": ["latest_invoice"]})
    line = sub.latest_invoice.lines.data[0]
    as_synced = created.to_dict()                   # what billingos stores: the price as Stripe answered it
    assert line.amount == pricing.amount_for(as_synced, quantity)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 50_000), st.integers(1, 50_000), st.integers(1, 30), st.integers(0, 86399))
def test_the_library_matches_the_emulators_prorations(old: int, new: int, day: int, second: int) -> None:
    em = Emulator(clock=FrozenClock(T0))
    client = em.client()
    a = client.v1.prices.create(params={"product_data": {"name": "A"}, "currency": "usd", "unit_amount": old,
                                        "recurring": {"interval": "month"}})
    b = client.v1.prices.create(params={"product_data": {"name": "B"}, "currency": "usd", "unit_amount": new,
                                        "recurring": {"interval": "month"}})
    cust = client.v1.customers.create(params={"payment_method": "pm_card_visa", "invoice_settings": {}})
    pm = client.v1.payment_methods.list(params={"customer": cust.id}).data[0].id
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": a.id}],
                                                 "default_payment_method": pm})
    item = sub["items"].data[0]
    at = int((T0 + timedelta(days=day, seconds=second)).timestamp())
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": {
        "items": [{"id": item.id, "price": b.id}], "proration_date": at}})
    prorations = [ln.amount for ln in preview.lines.data
                  if ln.parent.subscription_item_details and ln.parent.subscription_item_details.proration]
    expected = pricing.change_lines(old, new, item.current_period_start, item.current_period_end, at)
    assert prorations == [x for x in (expected.credit, expected.debit) if x != 0]
    assert Fraction(sum(prorations)) == expected.net
