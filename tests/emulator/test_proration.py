"""Proration (Stripe classic mode) and ``create_preview``: the preview equals the invoice that follows."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billingos.clock import FrozenClock
from billingos.emulator import Emulator

from .billing_kit import DAY, T0, customer, events_of, mark, price

PERIOD = 31 * DAY          # Jan 15 → Feb 15
RENEWAL = T0 + PERIOD


def _sub(client, amount: int = 2000, quantity: int = 1, **extra):
    p = price(client, amount)
    return client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": p.id, "quantity": quantity}], **extra})


def _pending(client, sub_id: str) -> list[int]:
    items = client.v1.invoice_items.list(params={"pending": True, "limit": 100}).data
    return [i.amount for i in reversed(items) if i.parent.subscription_details.subscription == sub_id]


def _exact(amount: int, at: int) -> Fraction:
    return Fraction(amount) * Fraction(RENEWAL - at, PERIOD)


def test_upgrade_credits_unused_time_and_debits_the_new_price(client, emulator: Emulator) -> None:
    sub = _sub(client, 2000)
    team = price(client, 5000, name="Team")
    at = T0 + 10 * DAY
    start = mark(emulator)
    upd = client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": sub["items"].data[0].id, "price": team.id}], "proration_date": at})
    assert upd["items"].data[0].price.id == team.id and upd.status == "active"
    assert _pending(client, sub.id) == [-1355, 3387]           # 2000×21/31 = 1354.8, 5000×21/31 = 3387.1
    items = client.v1.invoice_items.list(params={"pending": True}).data
    credit = next(i for i in items if i.amount < 0)
    assert credit.proration is True and credit.period.start == at and credit.period.end == RENEWAL
    assert credit.description == "Unused time on Pro after 25 Jan 2026"
    assert [e["type"] for e in emulator.store.all("event")[start:]] == [
        "customer.subscription.updated", "invoiceitem.created", "invoiceitem.created"]
    prev = events_of(emulator, "customer.subscription.updated", start)[0]["data"]["previous_attributes"]
    assert prev["items"]["data"][0]["price"]["id"] != team.id
    emulator.advance_to(RENEWAL)
    inv = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert [ln.amount for ln in inv.lines.data] == [-1355, 3387, 5000]
    assert [ln.parent.subscription_item_details.proration for ln in inv.lines.data] == [True, True, False]
    assert inv.total == 7032 and inv.status == "paid"


def test_two_upgrades_in_one_period_credit_the_full_price_each_time(client, emulator: Emulator) -> None:
    """gumroad #6077: the second credit is the unused fraction of the full Team price, not of what was paid."""
    sub = _sub(client, 2000)
    team, biz = price(client, 5000, name="Team"), price(client, 10000, name="Business")
    si = sub["items"].data[0].id
    client.v1.subscriptions.update(sub.id, params={"items": [{"id": si, "price": team.id}],
                                                   "proration_date": T0 + 10 * DAY})
    client.v1.subscriptions.update(sub.id, params={"items": [{"id": si, "price": biz.id}],
                                                   "proration_date": T0 + 20 * DAY})
    amounts = _pending(client, sub.id)
    assert amounts == [-1355, 3387, -1774, 3548]                # 5000×11/31 = 1774.2, 10000×11/31 = 3548.4
    # the customer pays for 10 days Pro, 10 days Team and 11 days Business, and no more
    exact = Fraction(2000 * 10 + 5000 * 10 + 10000 * 11, 31)       # 5806.45
    assert abs(sum(amounts) + 2000 - exact) <= 2
    emulator.advance_to(RENEWAL)
    inv = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert inv.total == sum(amounts) + 10000


def test_quantity_change_prorates_old_and_new_quantity(client) -> None:
    sub = _sub(client, 1000, quantity=1)
    client.v1.subscriptions.update(sub.id, params={"items": [{"id": sub["items"].data[0].id, "quantity": 3}],
                                                   "proration_date": T0 + 10 * DAY})
    assert _pending(client, sub.id) == [-677, 2032]
    items = client.v1.invoice_items.list(params={"pending": True}).data
    assert sorted(i.quantity for i in items) == [1, 3]


def test_proration_behavior_none_changes_without_invoice_items(client) -> None:
    sub = _sub(client)
    upd = client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": sub["items"].data[0].id, "price": price(client, 9000).id}], "proration_behavior": "none"})
    assert upd["items"].data[0].price.unit_amount == 9000
    assert client.v1.invoice_items.list().data == []


def test_always_invoice_bills_and_charges_now(client, emulator: Emulator) -> None:
    sub = _sub(client, 2000)
    team = price(client, 5000)
    start = mark(emulator)
    upd = client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": sub["items"].data[0].id, "price": team.id}],
        "proration_behavior": "always_invoice", "proration_date": T0 + 10 * DAY, "expand": ["latest_invoice"]})
    inv = upd.latest_invoice
    assert inv.billing_reason == "subscription_update" and inv.status == "paid"
    assert [ln.amount for ln in inv.lines.data] == [-1355, 3387] and inv.amount_paid == 2032
    assert [e["type"] for e in emulator.store.all("event")[start:]][:4] == [
        "customer.subscription.updated", "invoiceitem.created", "invoiceitem.created", "invoice.created"]
    assert client.v1.invoice_items.list(params={"pending": True}).data == []


def test_downgrade_with_always_invoice_leaves_a_credit_for_the_next_invoice(client, emulator: Emulator) -> None:
    sub = _sub(client, 5000)
    cust = sub.customer
    upd = client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": sub["items"].data[0].id, "price": price(client, 2000).id}],
        "proration_behavior": "always_invoice", "proration_date": T0 + 10 * DAY, "expand": ["latest_invoice"]})
    assert upd.latest_invoice.total == -3387 + 1355 and upd.latest_invoice.amount_due == 0
    assert upd.latest_invoice.ending_balance == -2032
    assert client.v1.customers.retrieve(cust).balance == -2032
    emulator.advance_to(RENEWAL)
    nxt = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert (nxt.total, nxt.starting_balance, nxt.amount_due, nxt.amount_paid) == (2000, -2032, 0, 0)
    assert client.v1.customers.retrieve(cust).balance == -32


def test_interval_change_resets_the_cycle_and_invoices_now(client, emulator: Emulator, clock) -> None:
    from datetime import timedelta
    sub = _sub(client, 2000)
    clock.advance(timedelta(days=10))
    yearly = price(client, 20000, interval="year", name="Pro yearly")
    upd = client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": sub["items"].data[0].id, "price": yearly.id}], "expand": ["latest_invoice"]})
    now = T0 + 10 * DAY
    item = upd["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (now, now + 365 * DAY)
    assert upd.billing_cycle_anchor == now
    inv = upd.latest_invoice
    assert [ln.amount for ln in inv.lines.data] == [-1355, 20000] and inv.status == "paid"
    assert inv.lines.data[1].period.start == now


def test_billing_cycle_anchor_now_restarts_the_period(client, clock) -> None:
    from datetime import timedelta
    sub = _sub(client, 3100)
    clock.advance(timedelta(days=10))
    upd = client.v1.subscriptions.update(sub.id, params={"billing_cycle_anchor": "now",
                                                         "expand": ["latest_invoice"]})
    assert upd.billing_cycle_anchor == T0 + 10 * DAY
    assert [ln.amount for ln in upd.latest_invoice.lines.data] == [-2100, 3100]


def test_changes_during_a_trial_do_not_prorate(client) -> None:
    sub = _sub(client, 2000, trial_period_days=14)
    client.v1.subscriptions.update(sub.id, params={"items": [{"id": sub["items"].data[0].id,
                                                              "price": price(client, 5000).id}]})
    assert client.v1.invoice_items.list().data == []


def _comparable(inv) -> list[tuple]:
    return [(ln.amount, ln.description, ln.period.start, ln.period.end, ln.quantity,
             ln.parent.subscription_item_details.proration,
             [(d.amount) for d in ln.discount_amounts], [(t.amount, t.tax_behavior) for t in ln.taxes or []])
            for ln in inv.lines.data]


def _totals(inv) -> tuple:
    return (inv.subtotal, inv.total, inv.amount_due, inv.starting_balance, inv.total_excluding_tax,
            [(t.amount, t.taxable_amount) for t in inv.total_taxes],
            [d.amount for d in inv.total_discount_amounts])


def test_preview_equals_the_renewal_invoice_that_follows(client, emulator: Emulator) -> None:
    vat = client.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 19, "inclusive": False})
    coupon = client.v1.coupons.create(params={"percent_off": 15, "duration": "forever"})
    sub = _sub(client, 2000, default_tax_rates=[vat.id], discounts=[{"coupon": coupon.id}])
    team = price(client, 5000, name="Team")
    change = {"items": [{"id": sub["items"].data[0].id, "price": team.id, "quantity": 2}],
              "proration_date": T0 + 7 * DAY + 3 * 3600}
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})
    assert preview.billing_reason == "upcoming" and preview.id.startswith("upcoming_in_")
    assert client.v1.invoice_items.list().data == [] and emulator.store.all("invoice")[-1].get("id") != preview.id
    client.v1.subscriptions.update(sub.id, params=change)
    emulator.advance_to(RENEWAL)
    real = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert _comparable(preview) == _comparable(real)
    assert _totals(preview) == _totals(real)
    assert real.total > 0 and len(real.lines.data) == 3


def test_preview_equals_the_immediate_invoice_of_always_invoice(client) -> None:
    sub = _sub(client, 2000)
    change = {"items": [{"id": sub["items"].data[0].id, "price": price(client, 7700).id}],
              "proration_behavior": "always_invoice", "proration_date": T0 + 19 * DAY}
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})
    upd = client.v1.subscriptions.update(sub.id, params={**change, "expand": ["latest_invoice"]})
    assert _comparable(preview) == _comparable(upd.latest_invoice)
    assert _totals(preview) == _totals(upd.latest_invoice)


def test_preview_without_changes_is_the_next_renewal(client) -> None:
    sub = _sub(client, 2000, quantity=3)
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert preview.total == 6000 and preview.lines.data[0].period.start == RENEWAL


def test_preview_of_a_new_subscription(client) -> None:
    cust = customer(client)
    p = price(client, 2500)
    preview = client.v1.invoices.create_preview(params={
        "customer": cust.id, "subscription_details": {"items": [{"price": p.id, "quantity": 2}]}})
    assert preview.total == 5000
    assert client.v1.subscriptions.list().data == []


def test_preview_errors_surface_instead_of_a_zero_invoice(client) -> None:
    sub = _sub(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": {
            "items": [{"id": sub["items"].data[0].id, "price": "price_missing"}]}})
    assert exc.value.http_status == 400 and exc.value.param == "subscription_details[items][0][price]"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": {
            "proration_behavior": "maybe"}})
    assert exc.value.param == "subscription_details[proration_behavior]"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.create_preview(params={})
    assert exc.value.param == "customer"


def test_error_if_incomplete_on_update_refuses_and_changes_nothing(client, emulator: Emulator) -> None:
    from .billing_kit import attach_card
    sub = _sub(client, 2000)
    attach_card(client, sub.customer, "pm_card_chargeCustomerFail")
    before = client.v1.subscriptions.retrieve(sub.id).to_dict()
    with pytest.raises(stripe.CardError):
        client.v1.subscriptions.update(sub.id, params={
            "items": [{"id": sub["items"].data[0].id, "price": price(client, 9000).id}],
            "proration_behavior": "always_invoice", "payment_behavior": "error_if_incomplete"})
    assert client.v1.subscriptions.retrieve(sub.id).to_dict() == before
    assert client.v1.invoice_items.list().data == []
    upd = client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": sub["items"].data[0].id, "price": price(client, 9000).id}],
        "proration_behavior": "always_invoice"})
    assert upd.status == "past_due"         # allow_incomplete: the change applies, the invoice stays open


# --- properties -----------------------------------------------------------------------------------
def _fresh() -> tuple[Emulator, object]:
    em = Emulator(clock=FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC)))
    return em, em.client()


amounts = st.integers(min_value=1, max_value=500_000)
quantities = st.integers(min_value=1, max_value=50)
offsets = st.integers(min_value=0, max_value=PERIOD - 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=amounts, new=amounts, q1=quantities, q2=quantities, offset=offsets)
def test_proration_lines_net_to_the_remaining_fraction_of_the_difference(old, new, q1, q2, offset) -> None:
    _, client = _fresh()
    sub = _sub(client, old, quantity=q1)
    at = T0 + offset
    client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": sub["items"].data[0].id, "price": price(client, new).id, "quantity": q2}],
        "proration_date": at})
    lines = _pending(client, sub.id)
    exact = _exact(new * q2 - old * q1, at)
    assert len(lines) <= 2
    assert abs(sum(lines) - exact) <= Fraction(1, 2) * len(lines) + Fraction(1, 2)
    credit = _exact(old * q1, at)
    credits = [x for x in lines if x < 0]
    if credit > Fraction(1, 2):                                          # the credit, to the cent
        assert len(credits) == 1 and abs(credits[0] + credit) <= Fraction(1, 2)
    elif credit < Fraction(1, 2):                                        # rounds to 0: no line at all
        assert credits == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=amounts, new=amounts, q2=quantities, offset=offsets, pct=st.sampled_from([None, 5, 12.5, 50]),
       behavior=st.sampled_from(["create_prorations", "always_invoice"]))
def test_preview_always_equals_the_invoice_that_follows(old, new, q2, offset, pct, behavior) -> None:
    em, client = _fresh()
    extra = {}
    if pct is not None:
        extra["discounts"] = [{"coupon": client.v1.coupons.create(params={"percent_off": pct,
                                                                            "duration": "forever"}).id}]
    sub = _sub(client, old, **extra)
    change = {"items": [{"id": sub["items"].data[0].id, "price": price(client, new).id, "quantity": q2}],
              "proration_date": T0 + offset, "proration_behavior": behavior}
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})
    upd = client.v1.subscriptions.update(sub.id, params=change)
    if behavior == "create_prorations" or upd.latest_invoice == sub.latest_invoice:
        em.advance_to(RENEWAL)         # nothing to invoice now (e.g. prorations that round to 0)
    real = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(upd.id).latest_invoice)
    assert _comparable(preview) == _comparable(real)
    assert _totals(preview) == _totals(real)
