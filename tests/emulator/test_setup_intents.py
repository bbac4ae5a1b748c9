"""SetupIntents through the real SDK, and confirmed through the Elements stand-in page."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator

from .hosted_kit import BASE, event_types, get, post


@pytest.fixture
def emulator(clock) -> Emulator:
    return Emulator(clock=clock, hosted_base_url=BASE)


@pytest.fixture
def customer(client):
    return client.v1.customers.create(params={"email": "seti@b.co"})


def test_create_is_requires_payment_method_with_a_client_secret(client, customer, emulator, clock) -> None:
    seti = client.v1.setup_intents.create(params={"customer": customer.id, "metadata": {"k": "v"}})
    assert (seti.status, seti.usage, seti.customer, seti.payment_method) == (
        "requires_payment_method", "off_session", customer.id, None)
    assert seti.client_secret.startswith(f"{seti.id}_secret_") and seti.created == int(clock.now().timestamp())
    assert seti.payment_method_types == ["card"] and seti.metadata.to_dict() == {"k": "v"}
    assert "last_setup_error" in seti and seti.last_setup_error is None
    assert event_types(emulator)[-1] == "setup_intent.created"
    on = client.v1.setup_intents.create(params={"usage": "on_session"})
    assert on.usage == "on_session" and on.customer is None


def test_confirm_with_a_card_attaches_it_to_the_customer(client, customer, emulator) -> None:
    seti = client.v1.setup_intents.create(params={"customer": customer.id})
    mark = len(emulator.store.all("event"))
    done = client.v1.setup_intents.confirm(seti.id, params={"payment_method": "pm_card_mastercard"})
    assert done.status == "succeeded" and done.payment_method.startswith("pm_")
    assert done.payment_method != "pm_card_mastercard"
    pms = client.v1.payment_methods.list(params={"customer": customer.id}).data
    assert [pm.id for pm in pms] == [done.payment_method] and pms[0].card.last4 == "4444"
    assert event_types(emulator, mark) == ["payment_method.attached", "setup_intent.succeeded"]
    succeeded = emulator.store.all("event")[-1]
    assert succeeded["data"]["previous_attributes"]["status"] == "requires_payment_method"


@pytest.mark.parametrize(("card", "decline", "message"), [
    ("pm_card_chargeDeclined", "generic_decline", "Your card was declined."),
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", "Your card has insufficient funds."),
    ("pm_card_visa_chargeDeclined", "generic_decline", "Your card was declined."),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "Your card has expired."),
])
def test_decline_cards_fail_with_last_setup_error(client, customer, emulator, card, decline, message) -> None:
    seti = client.v1.setup_intents.create(params={"customer": customer.id})
    mark = len(emulator.store.all("event"))
    with pytest.raises(stripe.CardError) as exc:
        client.v1.setup_intents.confirm(seti.id, params={"payment_method": card})
    err = exc.value
    assert (err.http_status, err.error.decline_code, err.user_message) == (402, decline, message)
    assert err.error.setup_intent.id == seti.id and err.error.setup_intent.status == "requires_payment_method"
    again = client.v1.setup_intents.retrieve(seti.id)
    assert again.status == "requires_payment_method" and again.payment_method is None
    assert (again.last_setup_error.decline_code, again.last_setup_error.type) == (decline, "card_error")
    assert again.last_setup_error.payment_method.card.last4 == client.v1.payment_methods.retrieve(card).card.last4
    assert client.v1.payment_methods.list(params={"customer": customer.id}).data == []
    assert event_types(emulator, mark) == ["setup_intent.setup_failed"]
    ok = client.v1.setup_intents.confirm(seti.id, params={"payment_method": "pm_card_visa"})
    assert ok.status == "succeeded" and ok.last_setup_error is None


def test_create_and_confirm_in_one_call_and_charge_customer_fail_card(client, customer) -> None:
    seti = client.v1.setup_intents.create(params={"customer": customer.id, "confirm": True,
                                                  "payment_method": "pm_card_chargeCustomerFail"})
    assert seti.status == "succeeded"      # the card saves; only later charges fail
    pm = client.v1.payment_methods.retrieve(seti.payment_method)
    assert pm.customer == customer.id and pm.card.last4 == "0341"


def test_cancel_and_the_states_that_refuse_it(client, customer, emulator) -> None:
    seti = client.v1.setup_intents.create(params={"customer": customer.id})
    canceled = client.v1.setup_intents.cancel(seti.id, params={"cancellation_reason": "abandoned"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert event_types(emulator)[-1] == "setup_intent.canceled"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.setup_intents.cancel(seti.id)
    assert exc.value.code == "setup_intent_unexpected_state" and "status of canceled" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.setup_intents.confirm(seti.id, params={"payment_method": "pm_card_visa"})
    assert exc.value.code == "setup_intent_unexpected_state"
    done = client.v1.setup_intents.create(params={"payment_method": "pm_card_visa", "confirm": True})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.setup_intents.cancel(done.id, params={"cancellation_reason": "duplicate"})
    assert "status of succeeded" in exc.value.user_message


def test_bad_input_is_refused_with_stripe_codes(client, customer) -> None:
    cases = [
        ({"customer": "cus_nope"}, "resource_missing", "customer"),
        ({"usage": "sometimes"}, "parameter_invalid", "usage"),
        ({"payment_method_types": ["sepa_debit"]}, "payment_method_unactivated", "payment_method_types[0]"),
        ({"payment_method": "pm_nope"}, "resource_missing", "payment_method"),
        ({"return_url": "https://shop.test/back"}, "parameter_invalid", "return_url"),
        ({"confirm": "maybe"}, "parameter_invalid", "confirm"),
        ({"colour": "blue"}, "parameter_unknown", "colour"),
    ]
    for params, code, param in cases:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.setup_intents.create(params=params)
        assert (exc.value.code, exc.value.param) == (code, param), params
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.setup_intents.retrieve("seti_nope")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    seti = client.v1.setup_intents.create(params={"customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.setup_intents.confirm(seti.id)
    assert exc.value.code == "setup_intent_unexpected_state" and exc.value.param == "payment_method"


def test_a_card_of_another_customer_is_refused(client, customer) -> None:
    other = client.v1.customers.create(params={"payment_method": "pm_card_visa"})
    theirs = client.v1.payment_methods.list(params={"customer": other.id}).data[0]
    seti = client.v1.setup_intents.create(params={"customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.setup_intents.confirm(seti.id, params={"payment_method": theirs.id})
    assert exc.value.code == "payment_method_unexpected_state"
    assert client.v1.payment_methods.retrieve(theirs.id).customer == other.id


def test_update_list_and_filters(client, customer) -> None:
    a = client.v1.setup_intents.create(params={"customer": customer.id})
    b = client.v1.setup_intents.create(params={})
    a2 = client.v1.setup_intents.update(a.id, params={"metadata": {"plan": "pro"}, "payment_method": "pm_card_visa"})
    assert a2.status == "requires_confirmation" and a2.metadata.plan == "pro"
    assert [s.id for s in client.v1.setup_intents.list(params={"customer": customer.id}).data] == [a.id]
    assert [s.id for s in client.v1.setup_intents.list().data] == [b.id, a.id]
    done = client.v1.setup_intents.confirm(a.id)
    assert done.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.setup_intents.update(a.id, params={"payment_method": "pm_card_visa"})


# --- the Elements stand-in ------------------------------------------------------------------------------
def _elements(emulator, seti, return_url="http://shop.test/billing/card/done"):
    url = f"/setup_intents/{seti.id}/confirm"
    return url, {"client_secret": seti.client_secret, "return_url": return_url}


def test_elements_page_declines_then_succeeds_and_redirects(client, customer, emulator) -> None:
    seti = client.v1.setup_intents.create(params={"customer": customer.id})
    url, q = _elements(emulator, seti)
    page = get(emulator, url, q)
    assert page.status == 200 and "Add a card" in page.text and "insufficient_funds" in page.text
    form = {"token": page.token(), "client_secret": seti.client_secret, "return_url": q["return_url"],
            "card": "pm_card_chargeDeclinedInsufficientFunds"}
    declined = post(emulator, url, form)
    assert declined.status == 402 and declined.alert == "Your card has insufficient funds."
    assert 'value="pm_card_chargeDeclinedInsufficientFunds" checked' in declined.body
    assert client.v1.setup_intents.retrieve(seti.id).status == "requires_payment_method"
    again = get(emulator, url, q)          # a reload shows the last error too
    assert again.alert == "Your card has insufficient funds."
    ok = post(emulator, url, {**form, "card": "pm_card_amex"})
    assert ok.status == 303
    assert ok.location == (f"{q['return_url']}?setup_intent={seti.id}&setup_intent_client_secret="
                           f"{seti.client_secret}&redirect_status=succeeded")
    done = client.v1.setup_intents.retrieve(seti.id)
    assert done.status == "succeeded" and client.v1.payment_methods.retrieve(done.payment_method).card.last4 == "0005"
    assert post(emulator, url, {**form, "card": "pm_card_visa"}).status == 303     # double submit: no second card
    assert len(client.v1.payment_methods.list(params={"customer": customer.id}).data) == 1


def test_elements_page_refuses_wrong_secret_token_card_and_offsite_return(client, customer, emulator) -> None:
    seti = client.v1.setup_intents.create(params={"customer": customer.id})
    url, q = _elements(emulator, seti)
    assert get(emulator, url, {**q, "client_secret": seti.client_secret + "x"}).status == 404
    assert get(emulator, url, {"return_url": q["return_url"]}).status == 404
    assert get(emulator, "/setup_intents/seti_nope/confirm", q).status == 404
    assert get(emulator, url, {**q, "return_url": "https://evil.example/steal"}).status == 400
    assert get(emulator, url, {**q, "return_url": "//evil.example/x"}).status == 400
    assert get(emulator, url, {**q, "return_url": "javascript:alert(1)"}).status == 400
    assert get(emulator, url, {**q, "return_url": "/billing/card/done"}).status == 200
    emulator.hosted.allowed_return_origins.add("https://app.example.com")
    assert get(emulator, url, {**q, "return_url": "https://app.example.com/back"}).status == 200
    token = get(emulator, url, q).token()
    form = {"token": token, "client_secret": seti.client_secret, "return_url": q["return_url"], "card": "pm_card_visa"}
    assert post(emulator, url, {**form, "token": "0" * 40}).status == 403
    other = client.v1.setup_intents.create(params={})
    assert post(emulator, f"/setup_intents/{other.id}/confirm",
                {**form, "client_secret": other.client_secret}).status == 403    # another intent's token
    bad = post(emulator, url, {**form, "card": "pm_card_4242"})
    assert bad.status == 400 and bad.alert == "Choose one of the test cards."
    assert client.v1.setup_intents.retrieve(seti.id).status == "requires_payment_method"


def test_elements_url_builds_the_page_address(client, emulator) -> None:
    seti = client.v1.setup_intents.create(params={})
    url = emulator.hosted.elements_url(seti, "/billing/card/done")
    assert url == (f"{BASE}/setup_intents/{seti.id}/confirm?client_secret={seti.client_secret}"
                   "&return_url=%2Fbilling%2Fcard%2Fdone")
    assert get(emulator, url).status == 200
    pi = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
    expected = f"{BASE}/payment_intents/{pi.id}/confirm?client_secret={pi.client_secret}"
    assert emulator.hosted.elements_url(pi) == expected


def test_elements_page_without_return_url_shows_the_result(client, emulator) -> None:
    seti = client.v1.setup_intents.create(params={})
    url = f"/setup_intents/{seti.id}/confirm"
    page = get(emulator, url, {"client_secret": seti.client_secret})
    done = post(emulator, url, {"token": page.token(), "client_secret": seti.client_secret, "card": "pm_card_visa"})
    assert done.status == 200 and "Card setup complete" in done.text
    canceled = client.v1.setup_intents.create(params={})
    client.v1.setup_intents.cancel(canceled.id)
    gone = get(emulator, f"/setup_intents/{canceled.id}/confirm", {"client_secret": canceled.client_secret})
    assert gone.status == 410
