"""Checkout Sessions through the SDK, completed on the stand-in page as a customer would."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator

from .billing_kit import DAY, T0, advance
from .billing_kit import customer as make_customer
from .billing_kit import price as make_price
from .hosted_kit import BASE, event_types, get, post

SUCCESS = "https://shop.test/welcome?session={CHECKOUT_SESSION_ID}"


@pytest.fixture
def emulator(clock) -> Emulator:
    return Emulator(clock=clock, hosted_base_url=BASE)


@pytest.fixture
def pro(client):
    return make_price(client, 2000, name="Pro")


def _session(client, pro, **extra):
    params = {"mode": "subscription", "line_items": [{"price": pro.id, "quantity": 1}], "success_url": SUCCESS,
              "cancel_url": "https://shop.test/pricing", **extra}
    return client.v1.checkout.sessions.create(params=params)


def _pay(emulator, cs, **form):
    page = get(emulator, cs.url)
    assert page.status == 200, page.text
    return post(emulator, cs.url, {"token": page.token(), **form})


def test_create_a_subscription_session(client, pro, emulator) -> None:
    cs = _session(client, pro, client_reference_id="org_42", metadata={"plan": "pro"})
    assert cs.id.startswith("cs_test_") and cs.url == f"{BASE}/checkout/{cs.id}"
    assert (cs.status, cs.mode, cs.payment_status, cs.amount_total, cs.currency) == (
        "open", "subscription", "unpaid", 2000, "usd")
    assert cs.expires_at == T0 + DAY and cs.customer is None and cs.subscription is None
    assert cs.client_reference_id == "org_42" and cs.metadata.plan == "pro"
    items = client.v1.checkout.sessions.line_items.list(cs.id).data
    assert [(i.price.id, i.quantity, i.amount_total, i.description) for i in items] == [(pro.id, 1, 2000, "Pro")]
    expanded = client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["line_items"]})
    assert expanded.line_items.data[0].quantity == 1


def test_completing_creates_customer_card_and_subscription(client, pro, emulator) -> None:
    cs = _session(client, pro, client_reference_id="org_42", subscription_data={"metadata": {"org": "42"}})
    page = get(emulator, cs.url)
    assert "Subscribe" in page.text and "$20.00 per month" in page.text and "Due today: $20.00" in page.text
    mark = len(emulator.store.all("event"))
    done = post(emulator, cs.url, {"token": page.token(), "email": "ada@shop.test", "name": "Ada",
                                   "card": "pm_card_visa"})
    assert done.status == 303 and done.location == f"https://shop.test/welcome?session={cs.id}"
    cs = client.v1.checkout.sessions.retrieve(cs.id)
    assert (cs.status, cs.payment_status, cs.url, cs.amount_total) == ("complete", "paid", None, 2000)
    cust = client.v1.customers.retrieve(cs.customer)
    assert (cust.email, cust.name) == ("ada@shop.test", "Ada")
    sub = client.v1.subscriptions.retrieve(cs.subscription)
    assert (sub.status, sub.customer, sub.metadata.org) == ("active", cust.id, "42")
    assert client.v1.payment_methods.retrieve(sub.default_payment_method).customer == cust.id
    assert client.v1.invoices.retrieve(cs.invoice).status == "paid"
    types = event_types(emulator, mark)
    assert types[0] == "customer.created" and types[-1] == "checkout.session.completed"
    assert {"payment_method.attached", "customer.subscription.created", "invoice.paid"} <= set(types)
    completed = emulator.store.all("event")[-1]["data"]["object"]
    assert (completed["client_reference_id"], completed["customer"], completed["subscription"]) == (
        "org_42", cust.id, sub.id)
    assert completed["customer_details"]["email"] == "ada@shop.test"
    page_url = f"{BASE}/checkout/{cs.id}"
    again = post(emulator, page_url, {"token": page.token(), "card": "pm_card_visa", "email": "x@y.z"})  # resubmitted
    assert again.status == 303 and again.location == done.location
    assert get(emulator, page_url).location == done.location
    assert len(client.v1.subscriptions.list(params={"customer": cust.id}).data) == 1


def test_trial_and_existing_customer(client, pro, emulator) -> None:
    cust = client.v1.customers.create(params={"email": "known@shop.test"})
    cs = _session(client, pro, customer=cust.id, subscription_data={"trial_period_days": 14})
    assert cs.amount_total == 0
    page = get(emulator, cs.url)
    assert "known@shop.test" in page.text and 'name="email"' not in page.body and "14 days free" in page.text
    assert "Start trial" in page.text
    done = post(emulator, cs.url, {"token": page.token(), "card": "pm_card_mastercard"})
    assert done.status == 303
    cs = client.v1.checkout.sessions.retrieve(cs.id)
    assert (cs.customer, cs.payment_status) == (cust.id, "no_payment_required")
    sub = client.v1.subscriptions.retrieve(cs.subscription)
    assert (sub.status, sub.trial_end) == ("trialing", T0 + 14 * DAY)
    assert len(client.v1.customers.list().data) == 1


def test_declines_show_stripe_message_and_create_nothing_until_a_good_card(client, pro, emulator) -> None:
    cs = _session(client, pro)
    declined = _pay(emulator, cs, email="bob@shop.test", card="pm_card_chargeDeclinedInsufficientFunds")
    assert declined.status == 402 and declined.alert == "Your card has insufficient funds."
    assert 'value="bob@shop.test"' in declined.body         # the form keeps what was typed
    assert client.v1.customers.list().data == []
    fails_later = _pay(emulator, cs, email="bob@shop.test", card="pm_card_chargeCustomerFail")
    assert fails_later.status == 402 and fails_later.alert == "Your card was declined."
    assert client.v1.subscriptions.list().data == []
    ok = _pay(emulator, cs, email="bob@shop.test", card="pm_card_visa")
    assert ok.status == 303
    assert len(client.v1.customers.list().data) == 1           # the first attempt's customer is reused
    assert client.v1.checkout.sessions.retrieve(cs.id).status == "complete"


def test_card_optional_with_a_trial_when_if_required(client, pro, emulator) -> None:
    cs = _session(client, pro, payment_method_collection="if_required",
                  subscription_data={"trial_period_days": 7})
    page = get(emulator, cs.url)
    assert "No card is needed now." in page.text and 'name="card"' not in page.body
    assert post(emulator, cs.url, {"token": page.token(), "email": "free@shop.test"}).status == 303
    sub = client.v1.subscriptions.retrieve(client.v1.checkout.sessions.retrieve(cs.id).subscription)
    assert sub.status == "trialing" and sub.default_payment_method is None


def test_setup_mode_confirms_the_session_setup_intent(client, emulator) -> None:
    cust = client.v1.customers.create(params={"email": "s@shop.test"})
    cs = client.v1.checkout.sessions.create(params={"mode": "setup", "customer": cust.id, "success_url": SUCCESS,
                                                    "setup_intent_data": {"metadata": {"why": "renewals"}}})
    assert cs.payment_status == "no_payment_required" and cs.amount_total is None
    seti = client.v1.setup_intents.retrieve(cs.setup_intent)
    assert (seti.customer, seti.status, seti.metadata.why) == (cust.id, "requires_payment_method", "renewals")
    declined = _pay(emulator, cs, card="pm_card_chargeDeclined")
    assert declined.status == 402 and declined.alert == "Your card was declined."
    assert _pay(emulator, cs, card="pm_card_visa").status == 303
    seti = client.v1.setup_intents.retrieve(cs.setup_intent)
    assert seti.status == "succeeded" and client.v1.payment_methods.retrieve(seti.payment_method).customer == cust.id
    assert event_types(emulator)[-1] == "checkout.session.completed"


def test_payment_mode_charges_a_payment_intent(client, emulator) -> None:
    once = client.v1.prices.create(params={"product_data": {"name": "Credits"}, "currency": "usd", "unit_amount": 500})
    cs = client.v1.checkout.sessions.create(params={"mode": "payment", "customer_creation": "always",
                                                    "line_items": [{"price": once.id, "quantity": 3}],
                                                    "success_url": SUCCESS})
    assert cs.amount_total == 1500
    assert _pay(emulator, cs, email="p@shop.test", card="pm_card_chargeDeclined").status == 402
    assert _pay(emulator, cs, email="p@shop.test", card="pm_card_visa").status == 303
    cs = client.v1.checkout.sessions.retrieve(cs.id)
    pi = client.v1.payment_intents.retrieve(cs.payment_intent)
    assert (cs.payment_status, pi.status, pi.amount, pi.customer) == ("paid", "succeeded", 1500, cs.customer)
    assert len(client.v1.payment_intents.list().data) == 1      # the declined attempt's intent was reused


def test_expiry_by_api_by_time_and_the_expired_page(client, pro, emulator, clock) -> None:
    cs = _session(client, pro)
    expired = client.v1.checkout.sessions.expire(cs.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert event_types(emulator)[-1] == "checkout.session.expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(cs.id)
    page = get(emulator, cs.url)
    assert page.status == 410 and "expired" in page.text and "https://shop.test/pricing" in page.body
    later = _session(client, pro, expires_at=T0 + 3600)
    advance(emulator, clock, hours=2)
    assert client.v1.checkout.sessions.retrieve(later.id).status == "expired"
    assert [e for e in event_types(emulator) if e == "checkout.session.expired"] == ["checkout.session.expired"] * 2


@pytest.mark.parametrize(("params", "code", "param"), [
    ({"line_items": [{"price": "x"}]}, "parameter_missing", "mode"),
    ({"mode": "rental"}, "parameter_invalid", "mode"),
    ({"mode": "subscription"}, "parameter_missing", "line_items"),
    ({"mode": "subscription", "line_items": [{"price": "price_nope"}]}, "resource_missing", "line_items[0][price]"),
    ({"mode": "subscription", "line_items": [{"quantity": 1}]}, "parameter_missing", "line_items[0][price]"),
    ({"mode": "setup", "success_url": "not a url"}, "url_invalid", "success_url"),
    ({"mode": "setup", "success_url": "javascript:alert(1)"}, "url_invalid", "success_url"),
    ({"mode": "setup", "ui_mode": "embedded_page"}, "parameter_invalid", "ui_mode"),
    ({"mode": "setup", "customer": "cus_nope"}, "resource_missing", "customer"),
    ({"mode": "setup", "expires_at": "soon"}, "parameter_invalid_integer", "expires_at"),
    ({"mode": "setup", "expires_at": T0 + 60}, "parameter_invalid", "expires_at"),
    ({"mode": "setup", "expires_at": T0 + 2 * DAY}, "parameter_invalid", "expires_at"),
    ({"mode": "setup", "client_reference_id": "x" * 201}, "parameter_invalid", "client_reference_id"),
    ({"mode": "setup", "subscription_data": {"trial_period_days": 3}}, "parameter_invalid", "subscription_data"),
    ({"mode": "setup", "customer_email": "not-an-email"}, "email_invalid", "customer_email"),
])
def test_bad_sessions_are_refused(client, params, code, param) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.checkout.sessions.create(params=params)
    assert (exc.value.code, exc.value.param) == (code, param)
    assert client.v1.checkout.sessions.list().data == []


def test_price_kind_must_match_the_mode(client, pro) -> None:
    once = client.v1.prices.create(params={"product_data": {"name": "Once"}, "currency": "usd", "unit_amount": 500})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.checkout.sessions.create(params={"mode": "payment", "line_items": [{"price": pro.id}]})
    assert "recurring price" in exc.value.user_message
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(params={"mode": "subscription", "line_items": [{"price": once.id}]})
    cust = make_customer(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.checkout.sessions.create(params={"mode": "setup", "customer": cust.id, "customer_email": "a@b.co"})
    assert exc.value.param == "customer_email"


def test_hostile_page_input_is_refused_or_escaped(client, pro, emulator) -> None:
    cs = _session(client, pro)
    page = get(emulator, cs.url)
    token = page.token()
    assert post(emulator, cs.url, {"token": "nope", "email": "a@b.co", "card": "pm_card_visa"}).status == 403
    assert post(emulator, cs.url, {"email": "a@b.co", "card": "pm_card_visa"}).status == 403
    nul = post(emulator, cs.url, {"token": token, "email": "a\x00@b.co", "card": "pm_card_visa"})
    assert nul.status == 400 and "control characters" in nul.text
    bad_email = post(emulator, cs.url, {"token": token, "email": "no at sign", "card": "pm_card_visa"})
    assert bad_email.status == 400 and bad_email.alert == "Enter a valid email address."
    xss = post(emulator, cs.url, {"token": token, "email": "a@b.co", "name": '<script>alert("x")</script>',
                                  "card": "pm_card_chargeDeclined"})
    assert xss.status == 402 and "<script>alert" not in xss.body and "&lt;script&gt;" in xss.body
    not_a_card = post(emulator, cs.url, {"token": token, "email": "a@b.co", "card": "pm_1234"})
    assert not_a_card.alert == "Choose one of the test cards."
    assert get(emulator, f"{BASE}/checkout/cs_test_doesnotexist").status == 404
    assert client.v1.customers.list().data == [] and client.v1.checkout.sessions.retrieve(cs.id).status == "open"
