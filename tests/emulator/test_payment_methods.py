from __future__ import annotations

import json
from pathlib import Path

import pytest
import stripe

from billingos.emulator import Emulator
from billingos.emulator.cards import charge_outcome, decline_error

FIXTURES = Path("/work/shared/stripe/fixtures3.json")


def _types(client) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


@pytest.fixture
def customer(client):
    return client.v1.customers.create(params={"email": "pay@b.co"})


def test_attaching_a_test_token_creates_a_new_payment_method(client, customer, clock) -> None:
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    assert pm.id.startswith("pm_") and pm.id != "pm_card_visa"
    assert pm.customer == customer.id
    card = pm.card
    assert (card.brand, card.last4, card.funding, card.country) == ("visa", "4242", "credit", "US")
    assert pm.type == "card" and pm.created == int(clock.now().timestamp())
    again = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    assert again.id != pm.id and again.card.fingerprint == pm.card.fingerprint
    assert _types(client)[-2:] == ["payment_method.attached", "payment_method.attached"]


def test_shape_has_every_fixture_key_and_nothing_private(client, customer) -> None:
    pm = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})
    fixture = json.loads(FIXTURES.read_text())["resources"]["payment_method"]
    body = pm.to_dict()
    assert set(fixture) <= set(body)
    assert set(fixture["card"]) <= set(body["card"])
    assert not [k for k in json.dumps(body).split('"') if k.startswith("_")]


@pytest.mark.parametrize(("token", "brand", "last4"), [
    ("pm_card_mastercard", "mastercard", "4444"), ("pm_card_amex", "amex", "0005"),
    ("pm_card_chargeCustomerFail", "visa", "0341"), ("pm_card_visa_debit", "visa", "5556"),
])
def test_test_tokens_carry_their_card_details(client, customer, token, brand, last4) -> None:
    pm = client.v1.payment_methods.attach(token, params={"customer": customer.id})
    assert (pm.card.brand, pm.card.last4) == (brand, last4)


@pytest.mark.parametrize(("token", "code", "decline", "message"), [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
    ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds",
     "Your card has insufficient funds."),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", "Your card has expired."),
])
def test_decline_cards_fail_at_attach_and_write_nothing(client, customer, token, code, decline,
                                                        message) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.attach(token, params={"customer": customer.id})
    assert exc.value.http_status == 402
    assert (exc.value.code, exc.value.error.decline_code, exc.value.user_message) == (code, decline, message)
    assert client.v1.customers.payment_methods.list(customer.id).data == []
    assert "payment_method.attached" not in _types(client)


def test_charge_customer_fail_attaches_but_charges_decline(client, customer, emulator: Emulator) -> None:
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": customer.id})
    good = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    assert charge_outcome(emulator.store.get("payment_method", bad.id)) == (False, "generic_decline")
    assert charge_outcome(good.to_dict()) == (True, None)
    funds = client.v1.payment_methods.retrieve("pm_card_visa_chargeDeclinedInsufficientFunds")
    assert charge_outcome(funds.to_dict()) == (False, "insufficient_funds")
    err = decline_error("insufficient_funds")
    assert (err.status, err.type, err.code) == (402, "card_error", "card_declined")


def test_test_tokens_are_retrievable_but_not_listed(client) -> None:
    pm = client.v1.payment_methods.retrieve("pm_card_visa")
    assert (pm.id, pm.card.last4, pm.customer) == ("pm_card_visa", "4242", None)
    assert client.v1.payment_methods.list().data == []
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.retrieve("pm_card_nosuchcard")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    assert "No such PaymentMethod: 'pm_card_nosuchcard'" in str(exc.value.user_message)


def test_create_from_token_or_test_number_then_attach(client, customer) -> None:
    pm = client.v1.payment_methods.create(params={
        "type": "card", "card": {"token": "tok_mastercard"},
        "billing_details": {"name": "Ada", "address": {"country": "GB"}}, "metadata": {"k": "v"}})
    assert (pm.card.brand, pm.customer, pm.billing_details.name) == ("mastercard", None, "Ada")
    assert pm.billing_details.address.country == "GB" and pm.metadata.to_dict() == {"k": "v"}
    raw = client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": "4000000000000341", "exp_month": 4, "exp_year": 2031}})
    assert (raw.card.last4, raw.card.exp_month, raw.card.exp_year) == ("0341", 4, 2031)
    attached = client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    assert attached.id == pm.id and attached.customer == customer.id


def test_create_refuses_bad_cards_and_params(client) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.create(params={
            "type": "card", "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2030}})
    assert exc.value.code == "incorrect_number"
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_nope"}})
    assert exc2.value.http_status == 400 and exc2.value.param == "card[token]"
    with pytest.raises(stripe.InvalidRequestError) as exc3:
        client.v1.payment_methods.create(params={"type": "card"})
    assert exc3.value.code == "parameter_missing" and exc3.value.param == "card"
    assert client.v1.payment_methods.list().data == []


def test_attach_refusals(client, customer) -> None:
    other = client.v1.customers.create()
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.attach(pm.id, params={"customer": other.id})
    assert "already been attached to a customer" in str(exc.value.user_message)
    same = client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    assert same.customer == customer.id
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.payment_methods.attach("pm_card_visa", params={"customer": "cus_missing"})
    assert exc2.value.param == "customer" and exc2.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as exc3:
        client.v1.payment_methods.attach("pm_card_visa", params={})
    assert exc3.value.code == "parameter_missing"


def test_detach_clears_the_default_and_cannot_be_reattached(client, customer) -> None:
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    detached = client.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    assert _types(client)[-2:] == ["payment_method.detached", "customer.updated"]
    updated = client.v1.events.list(params={"type": "customer.updated", "limit": 1}).data[0]
    assert updated.data.previous_attributes["invoice_settings"]["default_payment_method"] == pm.id
    detached_event = client.v1.events.list(params={"type": "payment_method.detached"}).data[0]
    assert detached_event.data.previous_attributes["customer"] == customer.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.detach(pm.id)
    assert "not attached to a customer" in str(exc.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
    assert "may not be used again" in str(exc2.value.user_message)


def test_detaching_a_non_default_leaves_the_customer_alone(client, customer) -> None:
    a = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    b = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": a.id}})
    client.v1.payment_methods.detach(b.id)
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == a.id
    assert _types(client)[-1] == "payment_method.detached"


def test_update_needs_an_attached_method(client, customer) -> None:
    loose = client.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.update(loose.id, params={"metadata": {"a": "1"}})
    assert "save this PaymentMethod to a customer" in str(exc.value.user_message)
    assert client.v1.payment_methods.retrieve(loose.id).metadata.to_dict() == {}
    pm = client.v1.payment_methods.attach(loose.id, params={"customer": customer.id})
    out = client.v1.payment_methods.update(pm.id, params={
        "metadata": {"a": "1"}, "billing_details": {"email": "b@b.co"}, "card": {"exp_month": 2}})
    assert out.metadata.to_dict() == {"a": "1"}
    assert (out.billing_details.email, out.card.exp_month) == ("b@b.co", 2)
    event = client.v1.events.list(params={"type": "payment_method.updated"}).data[0]
    assert event.data.previous_attributes["metadata"].to_dict() == {"a": None}
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.payment_methods.update(pm.id, params={"nickname": "x"})
    assert exc2.value.code == "parameter_unknown"


def test_lists_by_customer_and_customer_scoped_retrieve(client, customer) -> None:
    other = client.v1.customers.create()
    mine = [client.v1.payment_methods.attach(t, params={"customer": customer.id}).id
            for t in ("pm_card_visa", "pm_card_amex", "pm_card_mastercard")]
    theirs = client.v1.payment_methods.attach("pm_card_visa", params={"customer": other.id})
    listed = client.v1.payment_methods.list(params={"customer": customer.id, "type": "card"})
    assert [pm.id for pm in listed.data] == list(reversed(mine))
    scoped = client.v1.customers.payment_methods.list(customer.id, params={"limit": 2})
    assert [pm.id for pm in scoped.data] == list(reversed(mine))[:2] and scoped.has_more is True
    assert client.v1.customers.payment_methods.retrieve(customer.id, mine[0]).id == mine[0]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.payment_methods.retrieve(customer.id, theirs.id)
    assert exc.value.http_status == 404     # another customer's card is simply not there


def test_customer_create_with_payment_method(client) -> None:
    cust = client.v1.customers.create(params={"payment_method": "pm_card_visa", "email": "n@b.co"})
    pms = client.v1.customers.payment_methods.list(cust.id).data
    assert len(pms) == 1 and pms[0].card.last4 == "4242" and pms[0].customer == cust.id
    assert cust.invoice_settings.default_payment_method is None   # Stripe attaches, never defaults


def test_customer_create_with_a_declined_card_writes_nothing(client) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.customers.create(params={"payment_method": "pm_card_chargeDeclined", "email": "d@b.co"})
    assert exc.value.error.decline_code == "generic_decline"
    assert client.v1.customers.list().data == []
    assert client.v1.payment_methods.list().data == []
