"""Credit notes: pre- and post-payment, refunds, customer balance, lines, preview = create, void."""

from __future__ import annotations

import pytest
import stripe
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from billingos.emulator import Emulator

from .billing_kit import customer as make_customer
from .billing_kit import price as make_price
from .hosted_kit import event_types


def _paid(client, amount: int = 2000, **sub_extra):
    cust = make_customer(client)
    items = [{"price": make_price(client, amount).id}]
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": items, **sub_extra})
    inv = client.v1.invoices.retrieve(sub.latest_invoice)
    assert inv.status == "paid"
    return cust, inv


def _open(client, amount: int = 3000):
    cust = client.v1.customers.create(params={"email": "open@b.co"})
    inv = client.v1.invoices.create(params={"customer": cust.id, "collection_method": "send_invoice",
                                            "days_until_due": 30})
    client.v1.invoice_items.create(params={"customer": cust.id, "invoice": inv.id, "amount": amount, "currency": "usd",
                                           "description": "Consulting"})
    inv = client.v1.invoices.finalize_invoice(inv.id)
    assert inv.status == "open"
    return cust, inv


def test_post_payment_refund_of_an_invoice_line(client, emulator: Emulator) -> None:
    cust, inv = _paid(client)
    line = inv.lines.data[0]
    mark = len(emulator.store.all("event"))
    cn = client.v1.credit_notes.create(params={
        "invoice": inv.id, "reason": "product_unsatisfactory", "memo": "Sorry",
        "lines": [{"type": "invoice_line_item", "invoice_line_item": line.id, "amount": 500}], "refund_amount": 500})
    assert (cn.amount, cn.total, cn.subtotal, cn.type, cn.status) == (500, 500, 500, "post_payment", "issued")
    assert (cn.pre_payment_amount, cn.post_payment_amount, cn.out_of_band_amount) == (0, 500, None)
    assert cn.number == f"{inv.number}-CN-01" and cn.customer == cust.id and cn.memo == "Sorry"
    assert cn.lines.data[0].invoice_line_item == line.id and cn.lines.data[0].amount == 500
    refund = client.v1.refunds.retrieve(cn.refunds[0].refund)
    assert (refund.amount, cn.refunds[0].amount_refunded) == (500, 500)
    pi = client.v1.payment_intents.retrieve(inv.payment_intent)
    assert client.v1.charges.retrieve(pi.latest_charge).amount_refunded == 500
    inv = client.v1.invoices.retrieve(inv.id)
    assert (inv.post_payment_credit_notes_amount, inv.pre_payment_credit_notes_amount) == (500, 0)
    assert inv.amount_paid == 2000
    assert event_types(emulator, mark) == ["refund.created", "charge.refunded", "credit_note.created",
                                           "invoice.updated"]


def test_customer_balance_credit_is_used_by_the_next_invoice_and_voiding_takes_it_back(client, emulator) -> None:
    cust, inv = _paid(client)
    cn = client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 700, "credit_amount": 700})
    txn = client.v1.customers.balance_transactions.retrieve(cust.id, cn.customer_balance_transaction)
    assert (txn.amount, txn.type, txn.credit_note, txn.invoice, txn.ending_balance) == (
        -700, "credit_note", cn.id, inv.id, -700)
    assert client.v1.customers.retrieve(cust.id).balance == -700
    voided = client.v1.credit_notes.void_credit_note(cn.id)
    assert voided.status == "void" and voided.voided_at is not None
    assert client.v1.customers.retrieve(cust.id).balance == 0
    entries = client.v1.customers.balance_transactions.list(cust.id).data
    assert [(t.amount, t.ending_balance) for t in entries] == [(700, 0), (-700, -700)]
    inv = client.v1.invoices.retrieve(inv.id)
    assert inv.post_payment_credit_notes_amount == 0
    assert event_types(emulator)[-3:] == ["customer.updated", "credit_note.voided", "invoice.updated"]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.void_credit_note(cn.id)
    assert exc.value.http_status == 400 and "already been voided" in exc.value.user_message
    kept = client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 400, "credit_amount": 400})
    nxt = client.v1.invoices.create(params={"customer": cust.id})
    client.v1.invoice_items.create(params={"customer": cust.id, "invoice": nxt.id, "amount": 1000, "currency": "usd"})
    nxt = client.v1.invoices.finalize_invoice(nxt.id, params={"auto_advance": False})
    assert (nxt.starting_balance, nxt.amount_due) == (-400, 600)
    assert kept.status == "issued"


def test_pre_payment_credit_lowers_an_open_invoice_and_settles_it_at_zero(client, emulator) -> None:
    _, inv = _open(client)
    cn = client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 1000, "reason": "order_change"})
    assert (cn.type, cn.pre_payment_amount, cn.post_payment_amount) == ("pre_payment", 1000, 0)
    inv = client.v1.invoices.retrieve(inv.id)
    assert (inv.status, inv.amount_due, inv.amount_remaining, inv.pre_payment_credit_notes_amount) == (
        "open", 2000, 2000, 1000)
    assert client.v1.payment_intents.retrieve(inv.payment_intent).amount == 2000
    custom = client.v1.credit_notes.create(params={"invoice": inv.id, "lines": [
        {"type": "custom_line_item", "description": "Goodwill", "quantity": 2, "unit_amount": 1000}]})
    assert custom.lines.data[0].unit_amount == 1000 and custom.amount == 2000
    inv = client.v1.invoices.retrieve(inv.id)
    assert (inv.status, inv.amount_remaining, inv.amount_paid, inv.pre_payment_credit_notes_amount) == (
        "paid", 0, 0, 3000)
    assert client.v1.payment_intents.retrieve(inv.payment_intent).status == "canceled"
    assert event_types(emulator)[-4:] == ["invoice.updated", "payment_intent.canceled", "invoice.paid",
                                          "invoice.payment_succeeded"]
    with pytest.raises(stripe.InvalidRequestError) as exc:    # the invoice it lowered is now paid
        client.v1.credit_notes.void_credit_note(custom.id)
    assert exc.value.code == "invoice_not_editable"


def test_voiding_a_pre_payment_note_restores_what_is_owed(client) -> None:
    _, inv = _open(client)
    cn = client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 1200})
    client.v1.credit_notes.void_credit_note(cn.id)
    inv = client.v1.invoices.retrieve(inv.id)
    assert (inv.amount_due, inv.amount_remaining, inv.pre_payment_credit_notes_amount) == (3000, 3000, 0)
    paid = client.v1.invoices.pay(inv.id, params={"paid_out_of_band": True})
    assert paid.amount_paid == 3000


def test_mixed_note_on_an_invoice_partly_covered_by_balance(client) -> None:
    cust = make_customer(client)
    client.v1.customers.balance_transactions.create(cust.id, params={"amount": -500, "currency": "usd"})
    inv = client.v1.invoices.create(params={"customer": cust.id, "collection_method": "send_invoice",
                                            "days_until_due": 10})
    client.v1.invoice_items.create(params={"customer": cust.id, "invoice": inv.id, "amount": 2000, "currency": "usd"})
    inv = client.v1.invoices.finalize_invoice(inv.id)
    assert inv.amount_remaining == 1500
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 2000})
    assert "post-payment amount (500)" in exc.value.user_message
    cn = client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 2000, "out_of_band_amount": 500})
    assert (cn.type, cn.pre_payment_amount, cn.post_payment_amount, cn.out_of_band_amount) == ("mixed", 1500, 500, 500)
    inv = client.v1.invoices.retrieve(inv.id)
    assert (inv.status, inv.pre_payment_credit_notes_amount, inv.post_payment_credit_notes_amount) == (
        "paid", 1500, 500)


def test_discounts_and_taxes_are_credited_in_proportion(client) -> None:
    cust = make_customer(client)
    rate = client.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "once"})
    items = [{"price": make_price(client, 5000).id, "tax_rates": [rate.id]}]
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "discounts": [{"coupon": coupon.id}],
                                                 "items": items})
    inv = client.v1.invoices.retrieve(sub.latest_invoice)
    assert inv.total == 5400                       # 5000 - 500 discount + 20% of 4500
    line = inv.lines.data[0]
    half = client.v1.credit_notes.create(params={"invoice": inv.id, "refund_amount": 2700, "lines": [
        {"type": "invoice_line_item", "invoice_line_item": line.id, "amount": 2500}]})
    assert (half.subtotal, half.discount_amount, half.total_excluding_tax, half.amount) == (2500, 250, 2250, 2700)
    assert half.total_taxes[0].amount == 450 and half.lines.data[0].tax_rates[0].id == rate.id
    assert half.pretax_credit_amounts[0].type == "discount" and half.pretax_credit_amounts[0].amount == 250
    with pytest.raises(stripe.InvalidRequestError) as exc:     # only 2500 of the line is left
        client.v1.credit_notes.preview(params={"invoice": inv.id, "refund_amount": 2701, "lines": [
            {"type": "invoice_line_item", "invoice_line_item": line.id, "amount": 2501}]})
    assert exc.value.param == "lines[0][amount]"


def test_limits_and_bad_input(client) -> None:
    _, inv = _paid(client)
    line = inv.lines.data[0]
    cases = [
        ({"invoice": "in_nope", "amount": 100, "credit_amount": 100}, "resource_missing", "invoice"),
        ({"invoice": inv.id}, "parameter_missing", "amount"),
        ({"invoice": inv.id, "amount": 2001, "credit_amount": 2001}, "amount_too_large", "amount"),
        ({"invoice": inv.id, "amount": "lots", "credit_amount": 5}, "parameter_invalid_integer", "amount"),
        ({"invoice": inv.id, "amount": 500}, "parameter_invalid", "refund_amount"),
        ({"invoice": inv.id, "amount": 500, "refund_amount": 300, "credit_amount": 300}, "parameter_invalid",
         "refund_amount"),
        ({"invoice": inv.id, "amount": 500, "refund_amount": 500, "reason": "because"}, "parameter_invalid", "reason"),
        ({"invoice": inv.id, "refund_amount": 100, "lines": [{"type": "invoice_line_item",
                                                              "invoice_line_item": "il_nope"}]},
         "resource_missing", "lines[0][invoice_line_item]"),
        ({"invoice": inv.id, "refund_amount": 100,
          "lines": [{"type": "invoice_line_item", "invoice_line_item": line.id, "quantity": 2}]},
         "parameter_invalid", "lines[0][quantity]"),
        ({"invoice": inv.id, "refund_amount": 100, "lines": [{"type": "custom_line_item", "description": "x"}]},
         "parameter_missing", "lines[0][unit_amount]"),
        ({"invoice": inv.id, "refund_amount": 100, "lines": [{"type": "gift"}]}, "parameter_invalid", "lines[0][type]"),
    ]
    for params, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.credit_notes.create(params=params)
        assert (exc.value.code, exc.value.param) == (code, param), params
    assert client.v1.credit_notes.list(params={"invoice": inv.id}).data == []
    assert client.v1.invoices.retrieve(inv.id).post_payment_credit_notes_amount == 0
    draft = client.v1.invoices.create(params={"customer": inv.customer})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.create(params={"invoice": draft.id, "amount": 100})
    assert exc.value.code == "invoice_not_editable"


def test_a_note_with_a_refund_cannot_be_voided_and_update_lines_list(client, emulator) -> None:
    cust, inv = _paid(client)
    cn = client.v1.credit_notes.create(params={"invoice": inv.id, "amount": 300, "refund_amount": 300})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.credit_notes.void_credit_note(cn.id)
    assert "refund" in exc.value.user_message
    updated = client.v1.credit_notes.update(cn.id, params={"memo": "Partial refund", "metadata": {"t": "1"}})
    assert updated.memo == "Partial refund" and event_types(emulator)[-1] == "credit_note.updated"
    second = client.v1.credit_notes.create(params={"invoice": inv.id, "lines": [
        {"type": "custom_line_item", "description": "A", "unit_amount": 100},
        {"type": "custom_line_item", "description": "B", "unit_amount": 200}], "credit_amount": 300})
    assert second.number.endswith("-CN-02")
    assert [ln.description for ln in client.v1.credit_notes.line_items.list(second.id).data] == ["A", "B"]
    assert [c.id for c in client.v1.credit_notes.list(params={"customer": cust.id}).data] == [second.id, cn.id]
    assert client.v1.credit_notes.retrieve(cn.id).amount == 300


_LINE = st.one_of(
    st.builds(lambda a: {"type": "invoice_line_item", "amount": a}, st.integers(0, 1200)),
    st.builds(lambda q, u: {"type": "custom_line_item", "description": "c", "quantity": q, "unit_amount": u},
              st.integers(1, 3), st.integers(0, 600)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINE, min_size=1, max_size=3), share=st.sampled_from(["refund", "credit", "split"]))
def test_preview_equals_create_and_the_invoice_adds_up(clock, lines: list[dict], share: str) -> None:
    client = Emulator(clock=clock).client()
    cust = make_customer(client)
    items = [{"price": make_price(client, 4000).id}]
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": items})
    inv = client.v1.invoices.retrieve(sub.latest_invoice)
    il = inv.lines.data[0].id
    params_lines = [{**ln, "invoice_line_item": il} if ln["type"] == "invoice_line_item" else ln for ln in lines]
    expected = sum(ln.get("amount", 0) + ln.get("quantity", 0) * ln.get("unit_amount", 0) for ln in lines)
    item_total = sum(ln.get("amount", 0) for ln in lines)
    assume(0 < expected <= 4000 and item_total <= 4000)
    refund = expected // 2 if share == "split" else expected if share == "refund" else 0
    params = {"invoice": inv.id, "lines": params_lines, "refund_amount": refund, "credit_amount": expected - refund}
    preview = client.v1.credit_notes.preview(params=params)
    made = client.v1.credit_notes.create(params=params)
    keys = ("amount", "subtotal", "total", "type", "pre_payment_amount", "post_payment_amount", "discount_amount",
            "currency", "customer", "invoice", "number", "status")
    assert {k: preview[k] for k in keys} == {k: made[k] for k in keys}
    assert [(ln.amount, ln.type, ln.quantity) for ln in preview.lines.data] == [
        (ln.amount, ln.type, ln.quantity) for ln in made.lines.data]
    assert made.amount == expected                 # oracle: the sum of the asked lines, computed here
    inv = client.v1.invoices.retrieve(inv.id)
    assert inv.post_payment_credit_notes_amount == expected
    assert client.v1.customers.retrieve(cust.id).balance == -(expected - refund)
    charge = client.v1.charges.retrieve(client.v1.payment_intents.retrieve(inv.payment_intent).latest_charge)
    assert charge.amount_refunded == refund
