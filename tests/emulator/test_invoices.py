"""Invoices, invoice items, payment intents and charges in the emulator, through the real stripe SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stripe

from billingos.emulator import Emulator

from .billing_kit import DAY, T0, attach_card, customer, event_types, events_of, mark, price


def _draft(client, cust_id: str, *amounts: int, **extra):
    for amount in amounts:
        client.v1.invoice_items.create(params={"customer": cust_id, "amount": amount, "currency": "usd",
                                               "description": f"Item {amount}"})
    return client.v1.invoices.create(params={"customer": cust_id, "pending_invoice_items_behavior": "include",
                                             **extra})


def test_manual_invoice_lifecycle_draft_open_paid(client, emulator: Emulator) -> None:
    cust = customer(client)
    start = mark(emulator)
    inv = _draft(client, cust.id, 1500, 500)
    assert inv.status == "draft" and inv.billing_reason == "manual" and inv.auto_advance is False
    assert [ln.amount for ln in inv.lines.data] == [1500, 500] and inv.total == 2000
    assert inv.number is None and inv.hosted_invoice_url is None
    assert [i.invoice for i in client.v1.invoice_items.list().data] == [inv.id, inv.id]
    fin = client.v1.invoices.finalize_invoice(inv.id)
    assert fin.status == "open" and fin.status_transitions.finalized_at == T0
    assert fin.number and fin.hosted_invoice_url == f"https://invoice.stripe.test/i/{emulator.account_id}/{inv.id}"
    assert fin.invoice_pdf.endswith("/pdf") and fin.amount_remaining == 2000
    paid = client.v1.invoices.pay(inv.id)
    assert paid.status == "paid" and paid.amount_paid == 2000 and paid.amount_remaining == 0
    assert paid.status_transitions.paid_at == T0 and paid.payments.data[0].status == "paid"
    assert event_types(emulator, start) == [
        "invoiceitem.created", "invoiceitem.created", "invoice.created", "invoice.finalized",
        "payment_intent.created", "charge.succeeded", "payment_intent.succeeded", "invoice.paid",
        "invoice.payment_succeeded"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(inv.id)


def test_void_and_mark_uncollectible(client, emulator: Emulator) -> None:
    cust = customer(client)
    a = client.v1.invoices.finalize_invoice(_draft(client, cust.id, 700).id)
    voided = client.v1.invoices.void_invoice(a.id)
    assert voided.status == "void" and voided.status_transitions.voided_at == T0
    assert client.v1.payment_intents.retrieve(emulator.store.objects[a.id]["payment_intent"]).status == "canceled"
    b = client.v1.invoices.finalize_invoice(_draft(client, cust.id, 900).id)
    bad = client.v1.invoices.mark_uncollectible(b.id)
    assert bad.status == "uncollectible" and bad.status_transitions.marked_uncollectible_at == T0
    assert events_of(emulator, "invoice.voided") and events_of(emulator, "invoice.marked_uncollectible")
    paid = client.v1.invoices.pay(b.id)           # an uncollectible invoice can still be paid
    assert paid.status == "paid"


def test_pay_with_a_declining_card_fails_then_succeeds_with_a_good_one(client, emulator: Emulator) -> None:
    cust = customer(client, card="pm_card_chargeCustomerFail")
    inv = client.v1.invoices.finalize_invoice(_draft(client, cust.id, 1200).id)
    with pytest.raises(stripe.CardError) as exc:
        client.v1.invoices.pay(inv.id)
    assert exc.value.code == "card_declined"
    failed = client.v1.invoices.retrieve(inv.id)
    assert failed.status == "open" and failed.attempt_count == 1 and failed.attempted
    charge = client.v1.charges.list(params={"customer": cust.id}).data[0]
    assert charge.status == "failed" and charge.failure_code == "card_declined"
    assert charge.outcome.type == "issuer_declined"
    assert events_of(emulator, "invoice.payment_failed")
    good = attach_card(client, cust.id)
    assert client.v1.invoices.pay(inv.id, params={"payment_method": good}).status == "paid"
    assert len(client.v1.charges.list(params={"customer": cust.id}).data) == 2


def test_pay_without_payment_method_and_out_of_band(client) -> None:
    cust = customer(client, card=None)
    inv = _draft(client, cust.id, 800)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.pay(inv.id)
    assert exc.value.param == "payment_method"
    paid = client.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})
    assert paid.status == "paid" and paid.amount_paid_off_stripe == 800


def test_customer_balance_is_applied_at_finalization(client) -> None:
    cust = customer(client, balance=-500)
    inv = client.v1.invoices.finalize_invoice(_draft(client, cust.id, 2000).id)
    assert (inv.starting_balance, inv.amount_due, inv.ending_balance) == (-500, 1500, 0)
    assert client.v1.customers.retrieve(cust.id).balance == 0
    rich = customer(client, balance=-5000)
    inv2 = client.v1.invoices.finalize_invoice(_draft(client, rich.id, 2000).id)
    assert (inv2.amount_due, inv2.ending_balance, inv2.status) == (0, -3000, "paid")
    assert client.v1.customers.retrieve(rich.id).balance == -3000


def test_send_invoice_due_date(client) -> None:
    cust = customer(client, card=None)
    inv = _draft(client, cust.id, 100, collection_method="send_invoice", days_until_due=10)
    assert inv.due_date == T0 + 10 * DAY
    fin = client.v1.invoices.finalize_invoice(inv.id)
    assert fin.status == "open" and fin.due_date == T0 + 10 * DAY and client.v1.charges.list().data == []


def test_lines_endpoint_paginates(client) -> None:
    inv = _draft(client, customer(client).id, *range(100, 1300, 100))
    first = client.v1.invoices.line_items.list(inv.id, params={"limit": 5})
    assert [ln.amount for ln in first.data] == [100, 200, 300, 400, 500] and first.has_more
    rest = client.v1.invoices.line_items.list(inv.id, params={"limit": 20, "starting_after": first.data[-1].id})
    assert len(rest.data) == 7 and not rest.has_more


def test_invoice_items_crud_and_draft_edits(client, emulator: Emulator) -> None:
    cust = customer(client)
    p = client.v1.prices.create(params={"product_data": {"name": "Setup"}, "currency": "usd", "unit_amount": 250})
    inv = client.v1.invoices.create(params={"customer": cust.id})
    ii = client.v1.invoice_items.create(params={"customer": cust.id, "invoice": inv.id,
                                                "pricing": {"price": p.id}, "quantity": 4})
    assert ii.amount == 1000 and ii.invoice == inv.id and ii.quantity == 4
    assert client.v1.invoices.retrieve(inv.id).total == 1000
    ii = client.v1.invoice_items.update(ii.id, params={"quantity": 2, "description": "Setup fee"})
    assert ii.amount == 500 and client.v1.invoices.retrieve(inv.id).total == 500
    assert client.v1.invoice_items.retrieve(ii.id).description == "Setup fee"
    assert [x.id for x in client.v1.invoice_items.list(params={"invoice": inv.id}).data] == [ii.id]
    assert client.v1.invoice_items.delete(ii.id).deleted is True
    assert client.v1.invoices.retrieve(inv.id).total == 0
    assert client.v1.invoice_items.retrieve(ii.id).deleted is True
    client.v1.invoice_items.create(params={"customer": cust.id, "invoice": inv.id, "amount": 300,
                                           "currency": "usd"})
    client.v1.invoices.finalize_invoice(inv.id)
    frozen = client.v1.invoice_items.list(params={"invoice": inv.id}).data[0]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoice_items.update(frozen.id, params={"amount": 1})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.update(inv.id, params={"auto_advance": True})
    assert client.v1.invoices.update(inv.id, params={"metadata": {"k": "v"}}).metadata.to_dict() == {"k": "v"}
    draft = client.v1.invoices.create(params={"customer": cust.id})
    assert client.v1.invoices.delete(draft.id).deleted is True


def test_list_filters_and_payment_intents(client) -> None:
    a, b = customer(client), customer(client)
    ia = client.v1.invoices.finalize_invoice(_draft(client, a.id, 100).id)
    _draft(client, b.id, 200)
    assert [i.id for i in client.v1.invoices.list(params={"customer": a.id}).data] == [ia.id]
    assert [i.id for i in client.v1.invoices.list(params={"status": "open"}).data] == [ia.id]
    pis = client.v1.payment_intents.list(params={"customer": a.id}).data
    assert len(pis) == 1 and pis[0].amount == 100 and pis[0].status == "requires_payment_method"
    assert client.v1.payment_intents.retrieve(pis[0].id).customer == a.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.charges.retrieve("ch_nope")
    assert exc.value.http_status == 404


BAD_INVOICE_PARAMS = [
    ({}, "customer"),
    ({"customer": "cus_nope"}, "customer"),
    ({"customer": "$C", "collection_method": "cash"}, "collection_method"),
    ({"customer": "$C", "days_until_due": 5}, "days_until_due"),
    ({"customer": "$C", "pending_invoice_items_behavior": "all"}, "pending_invoice_items_behavior"),
    ({"customer": "$C", "discounts": [{"coupon": "nope"}]}, "discounts[0][coupon]"),
    ({"customer": "$C", "bogus": 1}, "bogus"),
]


@pytest.mark.parametrize("params,param", BAD_INVOICE_PARAMS)
def test_invoice_create_refuses_bad_params(client, emulator: Emulator, params, param) -> None:
    cust = customer(client)
    params = {k: (cust.id if v == "$C" else v) for k, v in params.items()}
    before = mark(emulator)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.create(params=params)
    assert exc.value.param == param
    assert emulator.store.all("invoice") == [] and mark(emulator) == before


BAD_ITEM_PARAMS = [
    ({"customer": "$C", "currency": "usd"}, "amount"),
    ({"customer": "$C", "amount": "ten", "currency": "usd"}, "amount"),
    ({"customer": "$C", "amount": 100, "currency": "zzz"}, "currency"),
    ({"customer": "$C", "amount": 100, "currency": "usd", "pricing": {"price": "price_x"}}, "pricing[price]"),
    ({"customer": "$C", "amount": 100, "currency": "usd", "invoice": "in_nope"}, "invoice"),
    ({"customer": "$C", "amount": 100, "currency": "usd", "period": {"start": 10, "end": 5}}, "period[end]"),
]


@pytest.mark.parametrize("params,param", BAD_ITEM_PARAMS)
def test_invoice_item_create_refuses_bad_params(client, emulator: Emulator, params, param) -> None:
    cust = customer(client)
    params = {k: (cust.id if v == "$C" else v) for k, v in params.items()}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create(params=params)
    assert exc.value.param == param
    assert emulator.store.all("invoiceitem") == []


def test_billing_objects_have_stripes_shape(client, emulator: Emulator) -> None:
    """Run the conformance checker over every object the billing engine makes, including failures."""
    from .test_conformance import FIXTURE_FILE, _check
    assert FIXTURE_FILE is not None
    fixtures = json.loads(Path(FIXTURE_FILE).read_text())["resources"]
    vat = client.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 19, "inclusive": False})
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "repeating", "duration_in_months": 2})
    promo = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}})
    good = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": good.id, "items": [{"price": price(client).id}],
                                                 "default_tax_rates": [vat.id],
                                                 "discounts": [{"promotion_code": promo.id}]})
    client.v1.subscriptions.update(sub.id, params={"items": [{"id": sub["items"].data[0].id,
                                                              "price": price(client, 5000).id}]})
    bad = customer(client, card="pm_card_chargeCustomerFail")
    client.v1.subscriptions.create(params={"customer": bad.id, "items": [{"price": price(client).id}]})
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    client.v1.invoices.void_invoice(client.v1.invoices.finalize_invoice(_draft(client, good.id, 5).id).id)
    client.v1.subscriptions.cancel(sub.id, params={"prorate": True, "invoice_now": True})
    objects = [(oid, obj) for oid, obj in emulator.store.objects.items()]
    checker = _check(fixtures, [*objects, ("preview", json.loads(str(preview)))])
    assert checker.errors == []
    assert {"subscription", "subscription_item", "invoice", "line_item", "invoiceitem", "payment_intent", "charge",
            "coupon", "promotion_code", "tax_rate", "discount", "plan"} <= checker.types
