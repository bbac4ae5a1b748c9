"""Coupons, promotion codes and tax rates, and how they make invoice totals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billingos.clock import FrozenClock
from billingos.emulator import Emulator

from .billing_kit import DAY, T0, customer, events_of, price


def _ts(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, 12, tzinfo=UTC).timestamp())


# --- coupons and promotion codes ------------------------------------------------------------------
def test_coupon_crud(client, emulator: Emulator) -> None:
    c = client.v1.coupons.create(params={"id": "SPRING", "percent_off": 25.5, "duration": "repeating",
                                         "duration_in_months": 3, "name": "Spring", "max_redemptions": 10})
    assert (c.id, c.percent_off, c.duration, c.duration_in_months, c.valid, c.times_redeemed) == (
        "SPRING", 25.5, "repeating", 3, True, 0)
    assert events_of(emulator, "coupon.created")
    assert client.v1.coupons.update("SPRING", params={"name": "Spring!"}).name == "Spring!"
    fixed = client.v1.coupons.create(params={"amount_off": 500, "currency": "usd"})
    assert fixed.duration == "once" and fixed.currency == "usd" and len(fixed.id) == 8
    assert [x.id for x in client.v1.coupons.list().data] == [fixed.id, "SPRING"]
    assert client.v1.coupons.delete("SPRING").deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.coupons.retrieve("SPRING")


BAD_COUPONS = [
    ({}, "percent_off"),
    ({"percent_off": 10, "amount_off": 5, "currency": "usd"}, "percent_off"),
    ({"percent_off": 0}, "percent_off"),
    ({"percent_off": 101}, "percent_off"),
    ({"percent_off": "NaN"}, "percent_off"),
    ({"amount_off": 500}, "currency"),
    ({"amount_off": -5, "currency": "usd"}, "amount_off"),
    ({"percent_off": 5, "duration": "repeating"}, "duration_in_months"),
    ({"percent_off": 5, "duration": "sometimes"}, "duration"),
    ({"percent_off": 5, "redeem_by": T0 - 1}, "redeem_by"),
    ({"percent_off": 5, "max_redemptions": 0}, "max_redemptions"),
]


@pytest.mark.parametrize("params,param", BAD_COUPONS)
def test_coupon_create_refuses_bad_params(client, emulator: Emulator, params, param) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.coupons.create(params=params)
    assert exc.value.param == param
    assert emulator.store.all("coupon") == []


def test_redemption_limits(client, clock) -> None:
    p = price(client)
    once = client.v1.coupons.create(params={"percent_off": 10, "max_redemptions": 1})
    promo = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": once.id},
                                                     "code": "WELCOME"})
    assert promo.code == "WELCOME" and promo.active and promo.promotion.coupon == once.id
    client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": p.id}],
                                           "discounts": [{"promotion_code": promo.id}]})
    assert client.v1.coupons.retrieve(once.id).times_redeemed == 1
    assert client.v1.coupons.retrieve(once.id).valid is False
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": p.id}],
                                               "discounts": [{"coupon": once.id}]})
    assert exc.value.code == "coupon_expired"
    late = client.v1.coupons.create(params={"percent_off": 10, "redeem_by": T0 + DAY})
    from datetime import timedelta
    clock.advance(timedelta(days=2))
    assert client.v1.coupons.retrieve(late.id).valid is False
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": p.id}],
                                               "discounts": [{"coupon": late.id}]})


def test_promotion_codes_crud_and_restrictions(client) -> None:
    c = client.v1.coupons.create(params={"percent_off": 20})
    mine = customer(client)
    promo = client.v1.promotion_codes.create(params={
        "promotion": {"type": "coupon", "coupon": c.id}, "code": "ONLY-ME", "customer": mine.id,
        "max_redemptions": 5, "restrictions": {"minimum_amount": 1000, "minimum_amount_currency": "usd"}})
    assert promo.restrictions.minimum_amount == 1000 and promo.customer == mine.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": c.id},
                                                 "code": "only-me"})    # codes are unique, case-insensitive
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(params={"customer": customer(client).id,
                                               "items": [{"price": price(client).id}],
                                               "discounts": [{"promotion_code": promo.id}]})
    off = client.v1.promotion_codes.update(promo.id, params={"active": False})
    assert off.active is False
    assert [x.id for x in client.v1.promotion_codes.list(params={"code": "ONLY-ME"}).data] == [promo.id]
    assert client.v1.promotion_codes.list(params={"active": True}).data == []
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": "nope"}})
    assert exc.value.param == "promotion[coupon]"


# --- tax rates ------------------------------------------------------------------------------------
def test_tax_rate_crud(client, emulator: Emulator) -> None:
    t = client.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 19, "inclusive": False,
                                           "country": "DE", "jurisdiction": "DE", "tax_type": "vat"})
    assert (t.percentage, t.inclusive, t.active, t.tax_type, t.rate_type) == (19.0, False, True, "vat", "percentage")
    assert events_of(emulator, "tax_rate.created")
    t = client.v1.tax_rates.update(t.id, params={"active": False, "description": "German VAT"})
    assert t.active is False and t.description == "German VAT"
    inc = client.v1.tax_rates.create(params={"display_name": "GST", "percentage": 7.5, "inclusive": True})
    assert [x.id for x in client.v1.tax_rates.list(params={"inclusive": True}).data] == [inc.id]
    assert [x.id for x in client.v1.tax_rates.list(params={"active": False}).data] == [t.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.tax_rates.update(t.id, params={"percentage": 20})     # fixed once created
    assert exc.value.param == "percentage"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(params={"customer": customer(client).id,
                                               "items": [{"price": price(client).id}],
                                               "default_tax_rates": [t.id]})     # inactive


@pytest.mark.parametrize("params,param", [
    ({"percentage": 10, "inclusive": False}, "display_name"),
    ({"display_name": "X", "inclusive": False}, "percentage"),
    ({"display_name": "X", "percentage": 10}, "inclusive"),
    ({"display_name": "X", "percentage": -1, "inclusive": False}, "percentage"),
    ({"display_name": "X", "percentage": 150, "inclusive": False}, "percentage"),
    ({"display_name": "X", "percentage": "ten", "inclusive": False}, "percentage"),
    ({"display_name": "X", "percentage": 10, "inclusive": "maybe"}, "inclusive"),
    ({"display_name": "X", "percentage": 10, "inclusive": False, "tax_type": "hat_tax"}, "tax_type"),
])
def test_tax_rate_create_refuses_bad_params(client, emulator: Emulator, params, param) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.tax_rates.create(params=params)
    assert exc.value.param == param
    assert emulator.store.all("tax_rate") == []


# --- totals ---------------------------------------------------------------------------------------
def test_percent_coupon_and_exclusive_tax(client) -> None:
    vat = client.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 19, "inclusive": False})
    c = client.v1.coupons.create(params={"percent_off": 15, "duration": "forever"})
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client).id, "items": [{"price": price(client, 2000).id, "quantity": 2}],
        "default_tax_rates": [vat.id], "discounts": [{"coupon": c.id}], "expand": ["latest_invoice"]})
    inv = sub.latest_invoice
    assert (inv.subtotal, inv.total_discount_amounts[0].amount, inv.total_taxes[0].amount, inv.total) == (
        4000, 600, 646, 4046)
    assert inv.total_taxes[0].taxable_amount == 3400 and inv.total_taxes[0].tax_behavior == "exclusive"
    assert inv.total_excluding_tax == 3400 and inv.amount_paid == 4046
    line = inv.lines.data[0]
    assert line.discount_amounts[0].amount == 600 and line.taxes[0].amount == 646
    assert sub.discounts[0].startswith("di_")
    disc = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts"]}).discounts[0]
    assert disc.source.coupon == c.id and disc.subscription == sub.id


def test_inclusive_tax_is_part_of_the_price(client) -> None:
    gst = client.v1.tax_rates.create(params={"display_name": "GST", "percentage": 20, "inclusive": True})
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client).id, "items": [{"price": price(client, 1200).id, "tax_rates": [gst.id]}],
        "expand": ["latest_invoice"]})
    inv = sub.latest_invoice
    assert (inv.subtotal, inv.total, inv.total_excluding_tax, inv.subtotal_excluding_tax) == (1200, 1200, 1000, 1000)
    assert (inv.total_taxes[0].amount, inv.total_taxes[0].tax_behavior) == (200, "inclusive")


def test_amount_off_is_spread_over_lines(client) -> None:
    c = client.v1.coupons.create(params={"amount_off": 500, "currency": "usd", "duration": "forever"})
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client).id, "discounts": [{"coupon": c.id}], "expand": ["latest_invoice"],
        "items": [{"price": price(client, 3000).id}, {"price": price(client, 1000, name="Addon").id}]})
    inv = sub.latest_invoice
    assert [ln.discount_amounts[0].amount for ln in inv.lines.data] == [375, 125]
    assert inv.total == 3500
    big = client.v1.coupons.create(params={"amount_off": 99999, "currency": "usd"})
    free = client.v1.subscriptions.create(params={"customer": customer(client).id, "discounts": [{"coupon": big.id}],
                                                  "items": [{"price": price(client, 700).id}],
                                                  "expand": ["latest_invoice"]})
    assert free.latest_invoice.total == 0 and free.status == "active" and free.latest_invoice.status == "paid"


@pytest.mark.parametrize("duration,months,discounted", [
    ("once", None, [True, False, False]),
    ("repeating", 2, [True, True, False]),
    ("forever", None, [True, True, True]),
])
def test_coupon_durations_across_renewals(client, emulator: Emulator, duration, months, discounted) -> None:
    params = {"percent_off": 50, "duration": duration}
    if months:
        params["duration_in_months"] = months
    c = client.v1.coupons.create(params=params)
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client, 2000).id}],
                                                 "discounts": [{"coupon": c.id}]})
    emulator.advance_to(_ts(2026, 3, 15))
    invoices = list(reversed(client.v1.invoices.list(params={"subscription": sub.id}).data))
    assert [i.total == 1000 for i in invoices] == discounted
    assert [i.total for i in invoices if i.total != 1000] == [2000] * discounted.count(False)


# --- properties -----------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amounts=st.lists(st.integers(min_value=1, max_value=300_000), min_size=1, max_size=4),
       pct=st.one_of(st.none(), st.sampled_from([1, 10, 33.3, 99])),
       amount_off=st.one_of(st.none(), st.integers(1, 50_000)),
       excl=st.one_of(st.none(), st.sampled_from([5, 7.25, 19, 21])),
       incl=st.one_of(st.none(), st.sampled_from([10, 20])))
def test_invoice_totals_identity(amounts, pct, amount_off, excl, incl) -> None:
    em = Emulator(clock=FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC)))
    client = em.client()
    rates = []
    for pctg, inclusive in ((excl, False), (incl, True)):
        if pctg is not None:
            rates.append(client.v1.tax_rates.create(params={"display_name": "T", "percentage": pctg,
                                                            "inclusive": inclusive}).id)
    discounts = []
    if pct is not None:
        discounts.append({"coupon": client.v1.coupons.create(params={"percent_off": pct, "duration": "forever"}).id})
    if amount_off is not None:
        discounts.append({"coupon": client.v1.coupons.create(params={"amount_off": amount_off, "currency": "usd",
                                                                     "duration": "forever"}).id})
    items = [{"price": price(client, a, name=f"P{i}").id} for i, a in enumerate(amounts)]
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id, "items": items,
                                                 "default_tax_rates": rates, "discounts": discounts,
                                                 "expand": ["latest_invoice"]})
    inv = sub.latest_invoice
    lines = inv.lines.data
    discount = sum(d.amount for ln in lines for d in ln.discount_amounts)
    exclusive = sum(t.amount for ln in lines for t in ln.taxes if t.tax_behavior == "exclusive")
    assert inv.subtotal == sum(ln.amount for ln in lines) == sum(amounts)
    assert sum(d.amount for d in inv.total_discount_amounts) == discount
    assert inv.total == inv.subtotal - discount + exclusive
    assert sum(t.amount for t in inv.total_taxes) == sum(t.amount for ln in lines for t in ln.taxes)
    assert 0 <= discount <= inv.subtotal
    assert inv.amount_due == max(0, inv.total) and all(isinstance(x, int) for x in (inv.total, inv.amount_due))
