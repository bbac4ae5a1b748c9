"""billingos.pricing: Stripe's documented examples, and properties that hold for every price (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billingos.pricing import (
    amount_for,
    graduated,
    package_units,
    per_unit,
    rate,
    round_half_up,
    to_decimal,
    volume,
)

# Stripe's "Set up tiered pricing" example (Typographic): fonts at 7 USD (1-5), 6.50 USD (6-10), 6 USD (11+).
FONTS = [{"up_to": 5, "unit_amount": 700}, {"up_to": 10, "unit_amount": 650},
         {"up_to": "inf", "unit_amount": 600}]


def _tiered(mode: str, tiers: list) -> dict:
    return {"billing_scheme": "tiered", "tiers_mode": mode, "tiers": tiers}


@pytest.mark.parametrize("quantity,cents", [(1, 700), (5, 3500), (6, 3900), (20, 12000), (25, 15000)])
def test_volume_is_stripes_table(quantity: int, cents: int) -> None:
    assert amount_for(_tiered("volume", FONTS), quantity) == cents


@pytest.mark.parametrize("quantity,cents", [(1, 700), (5, 3500), (6, 4150), (20, 12750), (25, 15750)])
def test_graduated_is_stripes_table(quantity: int, cents: int) -> None:
    r = rate(_tiered("graduated", FONTS), quantity)
    assert r.amount == cents
    assert sum(line.exact for line in r.lines) == cents


def test_graduated_breakdown_for_20_fonts() -> None:
    r = graduated(FONTS, 20)
    assert [(line.tier, line.units, line.exact) for line in r.lines] == [
        (0, 5, Decimal(3500)), (1, 5, Decimal(3250)), (2, 10, Decimal(6000))]


def test_flat_fee_and_overage() -> None:
    # Stripe's "fixed fee and overage": 200 USD covers 100,000 units, then 0.0025 USD per unit.
    tiers = [{"up_to": 100000, "flat_amount": 20000, "unit_amount": 0},
             {"up_to": None, "unit_amount_decimal": "0.25"}]
    assert amount_for(_tiered("graduated", tiers), 0) == 20000         # the base fee is due at zero usage
    assert amount_for(_tiered("graduated", tiers), 100000) == 20000
    assert amount_for(_tiered("graduated", tiers), 100002) == 20001    # 20000.5 rounds half up
    assert amount_for(_tiered("graduated", tiers), 100004) == 20001
    assert amount_for(_tiered("graduated", tiers), 100006) == 20002    # 20001.5 -> 20002


def test_package_pricing() -> None:
    # Stripe's package example: 5 USD per 5 units, rounded up (8 units -> 2 packages).
    price = {"billing_scheme": "per_unit", "unit_amount": 500,
             "transform_quantity": {"divide_by": 5, "round": "up"}}
    assert [amount_for(price, q) for q in (0, 1, 5, 8, 10, 11)] == [0, 500, 500, 1000, 1000, 1500]
    price["transform_quantity"]["round"] = "down"
    assert [amount_for(price, q) for q in (0, 4, 5, 9, 10)] == [0, 0, 500, 500, 1000]
    assert rate(price, 9).billed_units == 1


def test_sub_cent_unit_prices_round_once_at_the_end() -> None:
    # 0.4 cents per unit: 1 unit -> 0.4 -> 0; 2 units -> 0.8 -> 1; 1000 units -> 400 exactly.
    price = {"billing_scheme": "per_unit", "unit_amount_decimal": "0.4"}
    assert [amount_for(price, q) for q in (1, 2, 1000)] == [0, 1, 400]
    assert per_unit(Decimal("0.125"), 4).amount == 1       # 0.5 -> 1 (half up)
    assert per_unit("0.125", 12).amount == 2               # 1.5 -> 2


@pytest.mark.parametrize("bad", [-1, 1.5, True, None, "3", 10**16])
def test_bad_quantity_is_refused(bad) -> None:
    with pytest.raises(ValueError):
        amount_for({"billing_scheme": "per_unit", "unit_amount": 1}, bad)


@pytest.mark.parametrize("bad", [0.1, float("nan"), "NaN", "inf", "abc", True])
def test_amounts_must_be_exact_decimals(bad) -> None:
    with pytest.raises(ValueError):
        to_decimal(bad)


def test_prices_it_cannot_rate() -> None:
    with pytest.raises(ValueError):
        rate({"billing_scheme": "per_unit", "unit_amount": None}, 1)
    with pytest.raises(ValueError):
        rate({"billing_scheme": "tiered", "tiers_mode": "volume", "tiers": None}, 1)
    with pytest.raises(ValueError):
        rate({"billing_scheme": "tiered", "tiers_mode": "stairs", "tiers": FONTS}, 1)


# --- properties -----------------------------------------------------------------------------------
_bounds = st.lists(st.integers(1, 500), min_size=0, max_size=5, unique=True).map(sorted)
_units = st.decimals(min_value=0, max_value=10000, places=4, allow_nan=False, allow_infinity=False)
_int_units = st.integers(0, 10000)
_flats = st.one_of(st.none(), st.integers(0, 5000))


@st.composite
def tier_lists(draw, units=_units) -> list[dict]:  # type: ignore[no-untyped-def]
    bounds = [*draw(_bounds), None]
    return [{"up_to": b, "unit_amount_decimal": str(draw(units)), "flat_amount": draw(_flats)}
            for b in bounds]


@given(tier_lists(), st.integers(0, 3000))
def test_total_is_the_rounded_sum_of_the_lines(tiers: list, quantity: int) -> None:
    for mode in ("graduated", "volume"):
        r = rate(_tiered(mode, tiers), quantity)
        assert r.exact == sum((line.exact for line in r.lines), Decimal(0))
        assert r.amount == round_half_up(r.exact)
        assert abs(Decimal(r.amount) - r.exact) <= Decimal("0.5")
        assert sum(line.units for line in r.lines) == quantity


@given(tier_lists(units=_int_units), st.integers(0, 3000))
def test_integer_tiers_total_equals_sum_of_line_amounts(tiers: list, quantity: int) -> None:
    r = graduated(tiers, quantity)
    assert r.amount == sum(round_half_up(line.exact) for line in r.lines)


@given(tier_lists(), st.integers(0, 3000))
def test_graduated_never_decreases(tiers: list, quantity: int) -> None:
    price = _tiered("graduated", tiers)
    assert amount_for(price, quantity + 1) >= amount_for(price, quantity)


@given(tier_lists(), st.integers(0, 3000))
def test_one_tier_is_per_unit(tiers: list, quantity: int) -> None:
    one = [{**tiers[-1], "flat_amount": None}]
    expect = per_unit(one[0]["unit_amount_decimal"], quantity).amount
    assert amount_for(_tiered("graduated", one), quantity) == expect
    assert amount_for(_tiered("volume", one), quantity) == expect


@given(tier_lists(), st.integers(0, 3000))
def test_volume_uses_exactly_the_tier_it_lands_in(tiers: list, quantity: int) -> None:
    r = volume(tiers, quantity)
    (line,) = r.lines
    tier = tiers[line.tier]
    assert tier["up_to"] is None or quantity <= tier["up_to"]
    assert line.tier == 0 or tiers[line.tier - 1]["up_to"] < quantity


@given(st.integers(0, 10**6), st.integers(1, 1000), st.sampled_from(["up", "down"]))
def test_package_units(quantity: int, divide_by: int, rounding: str) -> None:
    units = package_units(quantity, {"divide_by": divide_by, "round": rounding})
    assert units * divide_by <= quantity + (divide_by - 1 if rounding == "up" else 0)
    assert (units + (0 if rounding == "up" else 1)) * divide_by >= quantity + (0 if rounding == "up" else 1)
