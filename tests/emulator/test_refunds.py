"""Refunds of charges and of a paid invoice's payment: limits, charge fields, events, listing."""

from __future__ import annotations

import pytest
import stripe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billingos.emulator import Emulator

from .billing_kit import customer as make_customer
from .billing_kit import price as make_price
from .hosted_kit import event_types


def _paid_invoice(client, amount: int = 2000):
    cust = make_customer(client)
    items = [{"price": make_price(client, amount).id}]
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": items})
    inv = client.v1.invoices.retrieve(sub.latest_invoice)
    assert inv.status == "paid"
    pi = client.v1.payment_intents.retrieve(inv.payment_intent)
    return inv, pi, client.v1.charges.retrieve(pi.latest_charge)


def test_partial_then_full_refund_of_a_paid_invoice(client, emulator: Emulator) -> None:
    inv, pi, charge = _paid_invoice(client)
    mark = len(emulator.store.all("event"))
    r1 = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500, "reason": "requested_by_customer",
                                          "metadata": {"ticket": "9"}})
    assert (r1.amount, r1.status, r1.charge, r1.payment_intent, r1.reason) == (
        500, "succeeded", charge.id, pi.id, "requested_by_customer")
    assert r1.destination_details.type == "card" and r1.balance_transaction.startswith("txn_")
    ch = client.v1.charges.retrieve(charge.id)
    assert (ch.amount_refunded, ch.refunded) == (500, False)
    assert event_types(emulator, mark) == ["refund.created", "charge.refunded"]
    refunded_event = emulator.store.all("event")[-1]
    assert refunded_event["data"]["previous_attributes"]["amount_refunded"] == 0
    r2 = client.v1.refunds.create(params={"charge": charge.id})       # the rest
    assert r2.amount == 1500
    ch = client.v1.charges.retrieve(charge.id)
    assert (ch.amount_refunded, ch.refunded) == (2000, True)
    assert [r.id for r in ch.refunds.data] == [r2.id, r1.id]
    assert client.v1.invoices.retrieve(inv.id).status == "paid"      # a refund alone does not change the invoice


def test_refund_limits_and_messages(client) -> None:
    _, pi, charge = _paid_invoice(client, 2145)
    client.v1.refunds.create(params={"charge": charge.id, "amount": 1000})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 1146})
    e = exc.value
    assert (e.http_status, e.code, e.param) == (400, "amount_too_large", "amount")
    assert e.user_message == "Refund amount ($11.46) is greater than unrefunded amount on charge ($11.45)"
    client.v1.refunds.create(params={"charge": charge.id, "amount": 1145})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert exc.value.code == "charge_already_refunded"
    assert exc.value.user_message == f"Charge {charge.id} has already been refunded."


def test_bad_refund_requests(client) -> None:
    _, pi, charge = _paid_invoice(client)
    cases = [
        ({}, "parameter_missing", "charge"),
        ({"charge": "ch_nope"}, "resource_missing", "charge"),
        ({"payment_intent": "pi_nope"}, "resource_missing", "payment_intent"),
        ({"charge": charge.id, "payment_intent": pi.id}, "parameters_exclusive", "charge"),
        ({"charge": charge.id, "amount": 0}, "parameter_invalid_integer", "amount"),
        ({"charge": charge.id, "amount": "ten"}, "parameter_invalid_integer", "amount"),
        ({"charge": charge.id, "reason": "changed_mind"}, "parameter_invalid", "reason"),
        ({"charge": charge.id, "reverse_transfer": True}, "parameter_invalid", "reverse_transfer"),
    ]
    for params, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.refunds.create(params=params)
        assert (exc.value.code, exc.value.param) == (code, param), params
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 0


def test_failed_or_unpaid_intents_cannot_be_refunded(client) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create(params={"amount": 900, "currency": "usd", "confirm": True,
                                                 "payment_method": "pm_card_chargeDeclined"})
    failed = exc.value.error.payment_intent
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.refunds.create(params={"payment_intent": failed.id})
    assert exc2.value.code == "charge_not_refundable"
    with pytest.raises(stripe.InvalidRequestError) as exc3:
        client.v1.refunds.create(params={"charge": failed.latest_charge})
    assert exc3.value.code == "charge_not_refundable"


def test_retrieve_update_list_and_charge_refunds(client, emulator: Emulator) -> None:
    _, _, charge = _paid_invoice(client)
    other_pi = client.v1.payment_intents.create(params={"amount": 800, "currency": "usd", "confirm": True,
                                                        "payment_method": "pm_card_visa"})
    a = client.v1.refunds.create(params={"charge": charge.id, "amount": 100})
    b = client.v1.refunds.create(params={"payment_intent": other_pi.id})
    assert [r.id for r in client.v1.refunds.list().data] == [b.id, a.id]
    assert [r.id for r in client.v1.refunds.list(params={"charge": charge.id}).data] == [a.id]
    assert [r.id for r in client.v1.refunds.list(params={"payment_intent": other_pi.id}).data] == [b.id]
    # the SDK's StripeClient has no service for these legacy routes: raw requests, still through the SDK
    listed = client.deserialize(client.raw_request("get", f"/v1/charges/{charge.id}/refunds"), api_mode="V1")
    assert [r.id for r in listed.data] == [a.id]
    one = client.deserialize(client.raw_request("get", f"/v1/charges/{charge.id}/refunds/{a.id}"), api_mode="V1")
    assert one.amount == 100
    with pytest.raises(stripe.InvalidRequestError):
        client.raw_request("get", f"/v1/charges/{charge.id}/refunds/{b.id}")
    updated = client.v1.refunds.update(a.id, params={"metadata": {"note": "x"}})
    assert updated.metadata.note == "x" and event_types(emulator)[-1] == "refund.updated"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.cancel(a.id)
    assert "status of succeeded" in exc.value.user_message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(total=st.integers(50, 50_000), asks=st.lists(st.integers(1, 60_000), min_size=1, max_size=8))
def test_refunds_never_exceed_the_charge(clock, total: int, asks: list[int]) -> None:
    """Oracle: a running balance kept here, not read back from the emulator's own arithmetic."""
    client = Emulator(clock=clock).client()
    pi = client.v1.payment_intents.create(params={"amount": total, "currency": "usd", "confirm": True,
                                                  "payment_method": "pm_card_visa"})
    left = total
    for ask in asks:
        if left == 0:
            with pytest.raises(stripe.InvalidRequestError) as exc:
                client.v1.refunds.create(params={"payment_intent": pi.id, "amount": ask})
            assert exc.value.code == "charge_already_refunded"
        elif ask > left:
            with pytest.raises(stripe.InvalidRequestError) as exc:
                client.v1.refunds.create(params={"payment_intent": pi.id, "amount": ask})
            assert exc.value.code == "amount_too_large"
        else:
            assert client.v1.refunds.create(params={"payment_intent": pi.id, "amount": ask}).amount == ask
            left -= ask
        ch = client.v1.charges.retrieve(pi.latest_charge)
        assert (ch.amount_refunded, ch.refunded) == (total - left, left == 0)
        listed = client.v1.refunds.list(params={"payment_intent": pi.id, "limit": 100}).data
        assert sum(r.amount for r in listed) == total - left
