"""PaymentIntents the API creates: create, confirm (on and off session), capture, cancel, update."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator

from .billing_kit import customer as make_customer
from .hosted_kit import BASE, event_types, get, post


@pytest.fixture
def emulator(clock) -> Emulator:
    return Emulator(clock=clock, hosted_base_url=BASE)


def test_create_without_confirm_waits_for_a_payment_method(client, emulator) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1999, "currency": "usd", "description": "Pack",
                                                  "metadata": {"order": "7"}})
    assert (pi.status, pi.amount, pi.currency, pi.description) == ("requires_payment_method", 1999, "usd", "Pack")
    assert pi.client_secret.startswith(f"{pi.id}_secret_") and pi.latest_charge is None
    assert pi.metadata.to_dict() == {"order": "7"} and pi.amount_received == 0
    assert event_types(emulator)[-1] == "payment_intent.created"
    with_pm = client.v1.payment_intents.create(params={"amount": 500, "currency": "eur",
                                                       "payment_method": "pm_card_visa"})
    assert with_pm.status == "requires_confirmation" and with_pm.payment_method.startswith("pm_")


def test_confirm_off_session_with_a_saved_card(client, emulator) -> None:
    cust = make_customer(client)
    pm = cust.invoice_settings.default_payment_method
    mark = len(emulator.store.all("event"))
    pi = client.v1.payment_intents.create(params={"amount": 2500, "currency": "usd", "customer": cust.id,
                                                  "payment_method": pm, "confirm": True, "off_session": True})
    assert (pi.status, pi.amount_received, pi.payment_method) == ("succeeded", 2500, pm)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.amount, charge.captured, charge.paid, charge.customer) == (2500, True, True, cust.id)
    assert event_types(emulator, mark) == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]


def test_a_declined_confirmation_answers_402_with_the_intent(client, emulator) -> None:
    mark = len(emulator.store.all("event"))
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd", "confirm": True,
                                                 "payment_method": "pm_card_chargeDeclinedLostCard"})
    err = exc.value.error
    assert (err.decline_code, err.code, err.payment_intent.status) == ("lost_card", "card_declined",
                                                                        "requires_payment_method")
    pi = client.v1.payment_intents.retrieve(err.payment_intent.id)
    assert pi.last_payment_error.decline_code == "lost_card" and pi.payment_method is None
    assert client.v1.charges.retrieve(pi.latest_charge).status == "failed"
    assert event_types(emulator, mark) == ["payment_intent.created", "charge.failed", "payment_intent.payment_failed"]
    ok = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert ok.status == "succeeded" and ok.last_payment_error is None and ok.amount_received == 1000


def test_setup_future_usage_saves_the_card_to_the_customer(client, emulator) -> None:
    cust = client.v1.customers.create(params={"email": "f@b.co"})
    pi = client.v1.payment_intents.create(params={"amount": 700, "currency": "usd", "customer": cust.id,
                                                  "payment_method": "pm_card_mastercard", "confirm": True,
                                                  "setup_future_usage": "off_session"})
    assert pi.status == "succeeded"
    saved = client.v1.payment_methods.list(params={"customer": cust.id}).data
    assert [p.id for p in saved] == [pi.payment_method]
    assert "payment_method.attached" in event_types(emulator)


def test_manual_capture_full_partial_and_cancel(client, emulator) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 3000, "currency": "usd", "capture_method": "manual",
                                                  "payment_method": "pm_card_visa", "confirm": True})
    assert (pi.status, pi.amount_capturable, pi.amount_received) == ("requires_capture", 3000, 0)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.captured, charge.amount_captured) == (False, 0)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 3001})
    assert exc.value.code == "amount_too_large"
    captured = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 2000})
    assert (captured.status, captured.amount_received) == ("succeeded", 2000)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.captured, charge.amount_captured, charge.amount_refunded, charge.refunded) == (
        True, 2000, 1000, False)
    with pytest.raises(stripe.InvalidRequestError) as exc:     # only the captured 2000 is left to refund
        client.v1.refunds.create(params={"charge": charge.id, "amount": 2001})
    assert exc.value.code == "amount_too_large"
    held = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd", "capture_method": "manual",
                                                    "payment_method": "pm_card_visa", "confirm": True})
    released = client.v1.payment_intents.cancel(held.id, params={"cancellation_reason": "requested_by_customer"})
    assert (released.status, released.cancellation_reason, released.amount_capturable) == (
        "canceled", "requested_by_customer", 0)
    held_charge = client.v1.charges.retrieve(held.latest_charge)
    assert (held_charge.refunded, held_charge.amount_refunded) == (True, 900)
    assert event_types(emulator)[-3:] == ["refund.created", "charge.refunded", "payment_intent.canceled"]


def test_cancel_refuses_succeeded_and_invoice_intents(client, emulator) -> None:
    done = client.v1.payment_intents.create(params={"amount": 500, "currency": "usd", "payment_method": "pm_card_visa",
                                                    "confirm": True})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(done.id)
    assert exc.value.code == "payment_intent_unexpected_state" and "status of succeeded" in exc.value.user_message
    cust = client.v1.customers.create(params={})
    inv = client.v1.invoices.create(params={"customer": cust.id})
    client.v1.invoice_items.create(params={"customer": cust.id, "invoice": inv.id, "amount": 1200, "currency": "usd"})
    inv = client.v1.invoices.finalize_invoice(inv.id, params={"auto_advance": False})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(inv.payment_intent)
    assert "void the invoice" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.cancel(done.id, params={"cancellation_reason": "bored"})
    assert exc.value.param == "cancellation_reason"


def test_bad_amounts_and_params(client) -> None:
    cases = [
        ({"amount": 10, "currency": "usd"}, "amount_too_small", "amount"),
        ({"amount": 100_000_000, "currency": "usd"}, "amount_too_large", "amount"),
        ({"amount": "12.5", "currency": "usd"}, "parameter_invalid_integer", "amount"),
        ({"amount": 500, "currency": "usdx"}, "parameter_invalid", "currency"),
        ({"currency": "usd"}, "parameter_missing", "amount"),
        ({"amount": 500, "currency": "usd", "off_session": True}, "parameter_invalid", "off_session"),
        ({"amount": 500, "currency": "usd", "customer": "cus_nope"}, "resource_missing", "customer"),
        ({"amount": 500, "currency": "usd", "payment_method_types": ["ideal"]}, "parameter_invalid",
         "payment_method_types[0]"),
    ]
    for params, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.payment_intents.create(params=params)
        assert (exc.value.code, exc.value.param) == (code, param), params


def test_update_before_confirmation_only(client) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 800, "currency": "usd"})
    pi = client.v1.payment_intents.update(pi.id, params={"amount": 900, "metadata": {"a": "1"}})
    assert (pi.amount, pi.metadata.a) == (900, "1")
    pi = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert pi.amount_received == 900
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_intents.update(pi.id, params={"amount": 1000})
    assert exc.value.code == "payment_intent_unexpected_state"
    assert client.v1.payment_intents.update(pi.id, params={"description": "later"}).description == "later"


def test_elements_page_pays_an_intent(client, emulator) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 4200, "currency": "usd", "description": "Top-up"})
    url, q = f"/payment_intents/{pi.id}/confirm", {"client_secret": pi.client_secret, "return_url": "/billing/paid"}
    page = get(emulator, url, q)
    assert page.status == 200 and "$42.00" in page.text and "Top-up" in page.text
    form = {"token": page.token(), **q, "card": "pm_card_chargeDeclinedIncorrectCvc"}
    declined = post(emulator, url, form)
    assert declined.status == 402 and declined.alert == "Your card's security code is incorrect."
    ok = post(emulator, url, {**form, "card": "pm_card_visa"})
    assert ok.status == 303 and ok.location.startswith(f"/billing/paid?payment_intent={pi.id}&")
    assert ok.location.endswith("redirect_status=succeeded")
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
