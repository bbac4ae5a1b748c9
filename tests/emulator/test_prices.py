"""Prices in the emulator, through the real stripe SDK."""

from __future__ import annotations

from decimal import Decimal

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from billingos.emulator import Emulator
from billingos.emulator.rating import price_amount as amount_for

TIERS = [{"up_to": 5, "unit_amount": 700}, {"up_to": 10, "unit_amount": 650},
         {"up_to": "inf", "unit_amount": 600}]


@pytest.fixture
def product(client):
    return client.v1.products.create(params={"name": "Fonts"})


def _price(client, product, **extra):
    params = {"product": product.id, "currency": "usd", "unit_amount": 1000, **extra}
    return client.v1.prices.create(params=params)


def _bad(client, emulator: Emulator, params: dict) -> stripe.InvalidRequestError:
    before = len(emulator.store.objects)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(params=params)
    assert exc.value.http_status == 400
    assert len(emulator.store.objects) == before    # nothing written, not even an event
    return exc.value


def test_one_time_price_shape(client, product, emulator: Emulator) -> None:
    p = _price(client, product, nickname="Once", metadata={"k": "v"})
    assert p.id.startswith("price_") and p.object == "price"
    assert (p.type, p.billing_scheme, p.currency, p.unit_amount) == ("one_time", "per_unit", "usd", 1000)
    assert p.unit_amount_decimal == Decimal("1000")
    assert emulator.store.objects[p.id]["unit_amount_decimal"] == "1000"
    assert p.recurring is None and p.tiers_mode is None and p.transform_quantity is None
    assert (p.active, p.nickname, p.lookup_key, p.tax_behavior) == (True, "Once", None, "unspecified")
    assert p.custom_unit_amount is None and p.metadata["k"] == "v" and p.product == product.id
    assert "tiers" not in p
    events = client.v1.events.list(params={"type": "price.created"}).data
    assert [e.data.object.id for e in events] == [p.id]


def test_recurring_defaults(client, product) -> None:
    p = _price(client, product, recurring={"interval": "year", "interval_count": 3, "trial_period_days": 14})
    assert p.type == "recurring"
    assert p.recurring.to_dict() == {"interval": "year", "interval_count": 3, "meter": None,
                                     "trial_period_days": 14, "usage_type": "licensed"}


@pytest.mark.parametrize("interval,limit", [("day", 1095), ("week", 156), ("month", 36), ("year", 3)])
def test_interval_count_capped_at_three_years(client, product, emulator, interval, limit) -> None:
    ok = _price(client, product, recurring={"interval": interval, "interval_count": limit})
    assert ok.recurring.interval_count == limit
    err = _bad(client, emulator, {"product": product.id, "currency": "usd", "unit_amount": 1,
                                  "recurring": {"interval": interval, "interval_count": limit + 1}})
    assert err.param == "recurring[interval_count]"
    assert str(limit) in err.user_message


def test_metered_needs_a_meter(client, product, emulator: Emulator) -> None:
    err = _bad(client, emulator, {"product": product.id, "currency": "usd", "unit_amount": 1,
                                  "recurring": {"interval": "month", "usage_type": "metered"}})
    assert err.param == "recurring[meter]"
    # no meters exist yet: a well-formed mtr_ id is accepted and kept
    metered = {"interval": "month", "usage_type": "metered", "meter": "mtr_future"}
    p = _price(client, product, recurring=metered)
    assert (p.recurring.usage_type, p.recurring.meter) == ("metered", "mtr_future")


def test_metered_meter_must_exist_once_meters_do(client, product, emulator: Emulator) -> None:
    meter = client.v1.billing.meters.create(params={"display_name": "Calls", "event_name": "calls",
                                                    "default_aggregation": {"formula": "sum"}})
    err = _bad(client, emulator, {"product": product.id, "currency": "usd", "unit_amount": 1,
                                  "recurring": {"interval": "month", "usage_type": "metered",
                                                "meter": "mtr_x"}})
    assert err.code == "resource_missing"
    p = _price(client, product, recurring={"interval": "month", "usage_type": "metered", "meter": meter.id})
    assert p.recurring.meter == meter.id
    listed = client.v1.prices.list(params={"recurring": {"meter": meter.id}}).data
    assert [x.id for x in listed] == [p.id]


def test_unit_amount_decimal(client, product, emulator: Emulator) -> None:
    p = client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                        "unit_amount_decimal": "0.012345678901"})
    assert p.unit_amount is None
    assert emulator.store.objects[p.id]["unit_amount_decimal"] == "0.012345678901"
    whole = client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                            "unit_amount_decimal": Decimal("250.00")})
    assert whole.unit_amount == 250 and emulator.store.objects[whole.id]["unit_amount_decimal"] == "250"
    padded = client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                             "unit_amount_decimal": "0.5000000000000"})
    assert emulator.store.objects[padded.id]["unit_amount_decimal"] == "0.5"   # trailing zeros don't count


@pytest.mark.parametrize("extra,param", [
    ({"unit_amount": 1, "unit_amount_decimal": "1"}, "unit_amount"),
    ({"unit_amount_decimal": "0.0000000000001"}, "unit_amount_decimal"),
    ({"unit_amount_decimal": "abc"}, "unit_amount_decimal"),
    ({"unit_amount": -1}, "unit_amount"),
    ({}, None),
    ({"unit_amount": 1, "currency": "USDX"}, "currency"),
    ({"unit_amount": 1, "recurring": {"interval": "hour"}}, "recurring[interval]"),
    ({"unit_amount": 1, "recurring": {"interval": "month", "meter": "mtr_1"}}, "recurring[meter]"),
    ({"unit_amount": 1, "transform_quantity": {"divide_by": 0, "round": "up"}},
     "transform_quantity[divide_by]"),
    ({"unit_amount": 1, "transform_quantity": {"divide_by": 10, "round": "nearest"}},
     "transform_quantity[round]"),
    ({"unit_amount": 1, "tiers": TIERS}, "tiers"),
    ({"billing_scheme": "tiered", "tiers": TIERS}, "tiers_mode"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume"}, "tiers"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume", "tiers": TIERS, "unit_amount": 5}, "unit_amount"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume", "tiers": TIERS,
      "transform_quantity": {"divide_by": 2, "round": "up"}}, "transform_quantity"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume", "tiers": [{"up_to": 5, "unit_amount": 1}]},
     "tiers[0][up_to]"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume",
      "tiers": [{"up_to": "inf", "unit_amount": 1}, {"up_to": "inf", "unit_amount": 1}]}, "tiers[0][up_to]"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume",
      "tiers": [{"up_to": 9, "unit_amount": 1}, {"up_to": 5, "unit_amount": 1},
                {"up_to": "inf", "unit_amount": 1}]},
     "tiers"),
    ({"billing_scheme": "tiered", "tiers_mode": "volume", "tiers": [{"up_to": "inf"}]}, "tiers[0]"),
    ({"unit_amount": 1, "tax_behavior": "sometimes"}, "tax_behavior"),
    ({"unit_amount": 1, "lookup_key": "k" * 201}, "lookup_key"),
    ({"unit_amount": 1, "product_data": {"name": "x"}}, "product"),
])
def test_create_validation(client, product, emulator: Emulator, extra, param) -> None:
    err = _bad(client, emulator, {"product": product.id, "currency": "usd", **extra})
    assert err.param == param


def test_product_is_required_and_must_exist(client, emulator: Emulator) -> None:
    err = _bad(client, emulator, {"currency": "usd", "unit_amount": 1})
    assert err.user_message == "You must specify either `product` or `product_data` when creating a price."
    err = _bad(client, emulator, {"currency": "usd", "unit_amount": 1, "product": "prod_nope"})
    assert (err.code, err.param) == ("resource_missing", "product")


def test_product_data_creates_a_product(client) -> None:
    p = client.v1.prices.create(params={"currency": "gbp", "unit_amount": 500,
                                        "product_data": {"name": "Add-on", "metadata": {"a": "b"}}})
    prod = client.v1.products.retrieve(p.product)
    assert prod.name == "Add-on" and prod.metadata["a"] == "b"
    types = [e.type for e in client.v1.events.list().data]
    assert types == ["price.created", "product.created"]


def test_tiers_only_when_expanded(client, product, emulator: Emulator) -> None:
    p = client.v1.prices.create(params={"product": product.id, "currency": "usd", "billing_scheme": "tiered",
                                        "tiers_mode": "graduated", "tiers": TIERS})
    assert "tiers" not in p and p.tiers_mode == "graduated" and p.unit_amount is None
    got = client.v1.prices.retrieve(p.id, params={"expand": ["tiers"]})
    assert [t.up_to for t in got.tiers] == [5, 10, None]
    assert [t.unit_amount for t in got.tiers] == [700, 650, 600]
    assert got.tiers[0].flat_amount is None
    listed = client.v1.prices.list(params={"expand": ["data.tiers"]}).data
    assert len(listed[0].tiers) == 3
    assert "tiers" not in client.v1.prices.list().data[0]
    event = client.v1.events.list(params={"type": "price.created"}).data[0]
    assert "tiers" not in event.data.object
    assert len(emulator.store.objects[p.id]["tiers"]) == 3


def test_package_pricing(client, product) -> None:
    p = _price(client, product, transform_quantity={"divide_by": 10, "round": "up"})
    assert p.transform_quantity.to_dict() == {"divide_by": 10, "round": "up"}


def test_custom_unit_amount_and_currency_options(client, product) -> None:
    p = client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                        "custom_unit_amount": {"enabled": True, "minimum": 500,
                                                               "preset": 1000}})
    assert p.custom_unit_amount.to_dict() == {"maximum": None, "minimum": 500, "preset": 1000}
    assert p.unit_amount is None
    q = _price(client, product, currency_options={"eur": {"unit_amount": 900}})
    assert "currency_options" not in q
    got = client.v1.prices.retrieve(q.id, params={"expand": ["currency_options"]})
    assert got.currency_options["eur"].unit_amount == 900
    assert got.currency_options["usd"].unit_amount == 1000


def test_lookup_key_unique_and_transfer(client, product, emulator: Emulator) -> None:
    a = _price(client, product, lookup_key="pro_monthly")
    client.v1.prices.update(a.id, params={"active": False})   # inactive holders still hold the key
    err = _bad(client, emulator, {"product": product.id, "currency": "usd", "unit_amount": 1,
                                  "lookup_key": "pro_monthly"})
    assert err.user_message == f"A price (`{a.id}`) already uses that lookup key."
    assert err.param == "lookup_key"
    b = _price(client, product, lookup_key="pro_monthly", transfer_lookup_key=True)
    assert b.lookup_key == "pro_monthly"
    assert client.v1.prices.retrieve(a.id).lookup_key is None
    found = client.v1.prices.list(params={"lookup_keys": ["pro_monthly"]}).data
    assert [x.id for x in found] == [b.id]
    updates = client.v1.events.list(params={"type": "price.updated"}).data
    assert updates[0].data.object.id == a.id
    assert updates[0].data.previous_attributes.lookup_key == "pro_monthly"


def test_update_lookup_key_with_transfer(client, product) -> None:
    a = _price(client, product, lookup_key="k")
    b = _price(client, product)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.update(b.id, params={"lookup_key": "k"})
    moved = client.v1.prices.update(b.id, params={"lookup_key": "k", "transfer_lookup_key": True})
    assert moved.lookup_key == "k"
    assert client.v1.prices.retrieve(a.id).lookup_key is None
    assert client.v1.prices.update(b.id, params={"lookup_key": ""}).lookup_key is None


def test_update_is_limited_to_mutable_fields(client, product, emulator: Emulator) -> None:
    p = _price(client, product)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.update(p.id, params={"unit_amount": 5})
    assert exc.value.param == "unit_amount"
    updated = client.v1.prices.update(p.id, params={"nickname": "n", "metadata": {"a": "1"},
                                                    "tax_behavior": "exclusive"})
    assert (updated.nickname, updated.tax_behavior, updated.unit_amount) == ("n", "exclusive", 1000)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.update(p.id, params={"tax_behavior": "inclusive"})
    assert exc.value.param == "tax_behavior"
    [event] = client.v1.events.list(params={"type": "price.updated"}).data
    assert event.data.previous_attributes.to_dict() == {"nickname": None, "metadata": {"a": None},
                                                        "tax_behavior": "unspecified"}


def test_default_price_cannot_be_archived(client) -> None:
    prod = client.v1.products.create(params={"name": "P", "default_price_data": {"currency": "usd",
                                                                                 "unit_amount": 1}})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.update(prod.default_price, params={"active": False})
    assert exc.value.param == "active"
    assert client.v1.prices.retrieve(prod.default_price).active is True


def test_list_filters(client, product) -> None:
    other = client.v1.products.create(params={"name": "Other"})
    once = _price(client, product)
    monthly = _price(client, product, recurring={"interval": "month"}, currency="eur")
    yearly = _price(client, other, recurring={"interval": "year"}, active=False)

    def ids(**params) -> list[str]:
        return [x.id for x in client.v1.prices.list(params=params).data]

    assert ids() == [yearly.id, monthly.id, once.id]
    assert ids(active=True) == [monthly.id, once.id]
    assert ids(currency="EUR") == [monthly.id]
    assert ids(product=other.id) == [yearly.id]
    assert ids(type="one_time") == [once.id]
    assert ids(recurring={"interval": "month"}) == [monthly.id]
    assert ids(recurring={"usage_type": "licensed"}) == [yearly.id, monthly.id]
    assert ids(created={"lte": once.created}) == [yearly.id, monthly.id, once.id]


def test_search(client, product) -> None:
    p = _price(client, product, lookup_key="gold", metadata={"plan": "gold"})
    _price(client, product, currency="eur")
    res = client.v1.prices.search(params={"query": "currency:'usd' AND metadata['plan']:'gold'"})
    assert [x.id for x in res.data] == [p.id] and res.total_count == 1
    assert [x.id for x in client.v1.prices.search(params={"query": "lookup_key:'gold'"}).data] == [p.id]


def test_retrieve_missing_is_404(client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.retrieve("price_nope")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"


# --- rating.price_amount: rating a price -----------------------------------------------------------------
# Stripe's "Set up tiered pricing" example: fonts at 7 USD (1-5), 6.50 USD (6-10), 6 USD (11+).
FONT_TIERS = [{"up_to": 5, "unit_amount": 700, "unit_amount_decimal": "700", "flat_amount": None},
              {"up_to": 10, "unit_amount": 650, "unit_amount_decimal": "650", "flat_amount": None},
              {"up_to": None, "unit_amount": 600, "unit_amount_decimal": "600", "flat_amount": None}]


def _tiered(mode: str, tiers=FONT_TIERS) -> dict:
    return {"billing_scheme": "tiered", "tiers_mode": mode, "tiers": tiers}


@pytest.mark.parametrize("quantity,cents", [(1, 700), (5, 3500), (6, 3900), (20, 12000), (25, 15000)])
def test_volume_matches_stripe_docs(quantity, cents) -> None:
    assert amount_for(_tiered("volume"), quantity) == cents


@pytest.mark.parametrize("quantity,cents", [(1, 700), (5, 3500), (6, 4150), (20, 12750), (25, 15750)])
def test_graduated_matches_stripe_docs(quantity, cents) -> None:
    assert amount_for(_tiered("graduated"), quantity) == cents


def test_flat_amounts() -> None:
    # A base fee of 20.00 covering 100 units, then 0.5 cents per unit (fixed fee and overage).
    tiers = [{"up_to": 100, "flat_amount": 2000, "unit_amount": 0},
             {"up_to": None, "unit_amount_decimal": "0.5"}]
    assert amount_for(_tiered("graduated", tiers), 0) == 2000
    assert amount_for(_tiered("graduated", tiers), 100) == 2000
    assert amount_for(_tiered("graduated", tiers), 101) == 2001    # 2000.5 rounds half up
    assert amount_for(_tiered("graduated", tiers), 103) == 2002    # 2001.5 -> 2002
    volume = [{"up_to": 10, "flat_amount": 500, "unit_amount": 100},
              {"up_to": None, "flat_amount": 300, "unit_amount": 90}]
    assert amount_for(_tiered("volume", volume), 10) == 1500
    assert amount_for(_tiered("volume", volume), 11) == 300 + 990


def test_per_unit_and_package() -> None:
    assert amount_for({"billing_scheme": "per_unit", "unit_amount_decimal": "1999"}, 3) == 5997
    assert amount_for({"billing_scheme": "per_unit", "unit_amount_decimal": "0.25"}, 3) == 1   # 0.75 -> 1
    assert amount_for({"billing_scheme": "per_unit", "unit_amount_decimal": "0.25"}, 2) == 1   # 0.5, half up
    package = {"billing_scheme": "per_unit", "unit_amount_decimal": "1000",
               "transform_quantity": {"divide_by": 10, "round": "up"}}
    assert [amount_for(package, q) for q in (0, 1, 10, 11, 20)] == [0, 1000, 1000, 2000, 2000]
    package["transform_quantity"]["round"] = "down"
    assert [amount_for(package, q) for q in (0, 9, 10, 19, 20)] == [0, 0, 1000, 1000, 2000]
    with pytest.raises(ValueError):
        amount_for(package, -1)


def test_amount_for_a_price_made_through_the_api(client, product, emulator: Emulator) -> None:
    p = client.v1.prices.create(params={"product": product.id, "currency": "usd", "billing_scheme": "tiered",
                                        "tiers_mode": "graduated",
                                        "tiers": TIERS})
    assert amount_for(emulator.store.objects[p.id], 20) == 12750


_bounds = st.lists(st.integers(1, 500), min_size=1, max_size=5, unique=True).map(sorted)
_units = st.decimals(min_value=0, max_value=10000, places=4, allow_nan=False, allow_infinity=False)
_flats = st.one_of(st.none(), st.integers(0, 5000))


@st.composite
def tier_lists(draw) -> list[dict]:
    bounds = [*draw(_bounds), None]
    return [{"up_to": b, "unit_amount_decimal": str(draw(_units)), "flat_amount": draw(_flats)}
            for b in bounds]


def _exact(tier: dict, units: int) -> Decimal:
    return Decimal(tier["unit_amount_decimal"]) * units + (tier["flat_amount"] or 0)


@given(tier_lists(), st.integers(0, 2000))
def test_graduated_is_sum_of_tier_pieces(tiers, quantity) -> None:
    pieces, lower = Decimal(0), 0
    for i, t in enumerate(tiers):
        top = quantity if t["up_to"] is None else min(quantity, t["up_to"])
        if top > lower or i == 0:
            pieces += _exact(t, max(top - lower, 0))
        if t["up_to"] is None or quantity <= t["up_to"]:
            break
        lower = t["up_to"]
    got = amount_for(_tiered("graduated", tiers), quantity)
    assert abs(Decimal(got) - pieces) <= Decimal("0.5")


@given(tier_lists(), st.integers(0, 2000))
def test_graduated_never_decreases(tiers, quantity) -> None:
    price = _tiered("graduated", tiers)
    assert amount_for(price, quantity + 1) >= amount_for(price, quantity)


@given(tier_lists(), st.integers(0, 2000))
def test_volume_is_monotone_within_a_tier(tiers, quantity) -> None:
    price = _tiered("volume", tiers)
    same_tier = all(t["up_to"] is None or (quantity <= t["up_to"]) == (quantity + 1 <= t["up_to"])
                    for t in tiers)
    if same_tier:
        assert amount_for(price, quantity + 1) >= amount_for(price, quantity)


@given(_units, st.integers(0, 10_000), st.integers(0, 10_000))
def test_per_unit_is_linear(unit, a, b) -> None:
    price = {"billing_scheme": "per_unit", "unit_amount_decimal": str(unit)}
    assert abs(amount_for(price, a + b) - amount_for(price, a) - amount_for(price, b)) <= 1
    exact = Decimal(str(unit)) * a
    assert abs(Decimal(amount_for(price, a)) - exact) <= Decimal("0.5")


@given(st.integers(1, 1000), st.sampled_from(["up", "down"]), st.integers(0, 100_000))
def test_package_counts_whole_packages(divide_by, round_, quantity) -> None:
    price = {"billing_scheme": "per_unit", "unit_amount_decimal": "100",
             "transform_quantity": {"divide_by": divide_by, "round": round_}}
    packages = -(-quantity // divide_by) if round_ == "up" else quantity // divide_by
    assert amount_for(price, quantity) == 100 * packages
