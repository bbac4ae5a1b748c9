"""Billing portal configurations and sessions through the SDK, and the stand-in portal driven over its pages."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator

from .billing_kit import advance
from .billing_kit import customer as make_customer
from .billing_kit import price as make_price
from .hosted_kit import BASE, event_types, get, post

RETURN = "https://shop.test/account"


@pytest.fixture
def emulator(clock) -> Emulator:
    return Emulator(clock=clock, hosted_base_url=BASE)


@pytest.fixture
def subscribed(client):
    cust = make_customer(client, name="Ada <Admin>", email="ada@shop.test")
    pro, team = make_price(client, 2000, name="Pro"), make_price(client, 5000, name="Team")
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": pro.id}]})
    return cust, sub, pro, team


def _full_config(client, pro, team, **cancel):
    return client.v1.billing_portal.configurations.create(params={
        "business_profile": {"headline": "Acme billing"},
        "features": {
            "customer_update": {"enabled": True, "allowed_updates": ["email", "name", "address"]},
            "invoice_history": {"enabled": True},
            "payment_method_update": {"enabled": True},
            "subscription_cancel": {"enabled": True, "mode": cancel.get("mode", "at_period_end"),
                                    "proration_behavior": cancel.get("proration", "none"),
                                    "cancellation_reason": {"enabled": True, "options": ["too_expensive", "unused"]}},
            "subscription_update": {"enabled": True, "default_allowed_updates": ["price", "quantity"],
                                    "proration_behavior": "none",
                                    "products": [{"product": pro.product, "prices": [pro.id]},
                                                 {"product": team.product, "prices": [team.id]}]},
        }})


def _session(client, cust, **extra):
    return client.v1.billing_portal.sessions.create(params={"customer": cust.id, "return_url": RETURN, **extra})


def test_configuration_crud_and_events(client, subscribed, emulator) -> None:
    _, _, pro, team = subscribed
    conf = _full_config(client, pro, team)
    assert conf.id.startswith("bpc_") and conf.is_default is False and conf.active is True
    assert conf.features.subscription_update.products[1].prices == [team.id]
    assert conf.features.subscription_cancel.cancellation_reason.options == ["too_expensive", "unused"]
    updated = client.v1.billing_portal.configurations.update(conf.id, params={
        "features": {"invoice_history": {"enabled": False}}, "default_return_url": RETURN})
    assert updated.features.invoice_history.enabled is False and updated.default_return_url == RETURN
    assert updated.features.customer_update.enabled is True           # untouched features stay
    assert event_types(emulator)[-2:] == ["billing_portal.configuration.created",
                                          "billing_portal.configuration.updated"]
    assert [c.id for c in client.v1.billing_portal.configurations.list(params={"is_default": False}).data] == [conf.id]


@pytest.mark.parametrize(("features", "param"), [
    ({"subscription_update": {"enabled": True}}, "features[subscription_update][products]"),
    ({"customer_update": {"enabled": True, "allowed_updates": ["password"]}},
     "features[customer_update][allowed_updates][0]"),
    ({"subscription_cancel": {"enabled": True, "mode": "someday"}}, "features[subscription_cancel][mode]"),
    ({"subscription_update": {"enabled": True, "products": [{"product": "prod_nope", "prices": []}]}},
     "features[subscription_update][products][0][product]"),
])
def test_bad_configurations(client, features, param) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing_portal.configurations.create(params={"features": features})
    assert exc.value.param == param
    assert client.v1.billing_portal.configurations.list().data == []


def test_session_with_the_default_configuration(client, subscribed, emulator) -> None:
    cust = subscribed[0]
    session = _session(client, cust)
    assert session.url == f"{BASE}/billing_portal/{session.id}" and session.return_url == RETURN
    conf = client.v1.billing_portal.configurations.retrieve(session.configuration)
    assert conf.is_default is True and conf.features.subscription_cancel.enabled is True
    assert event_types(emulator)[-2:] == ["billing_portal.configuration.created", "billing_portal.session.created"]
    assert _session(client, cust).configuration == conf.id          # made once
    bad = [({"customer": "cus_nope"}, "customer"), ({"customer": cust.id, "configuration": "bpc_x"}, "configuration"),
           ({"customer": cust.id, "return_url": "ftp://x"}, "return_url")]
    for params, param in bad:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.billing_portal.sessions.create(params=params)
        assert exc.value.param == param


def test_home_page_shows_what_the_features_allow_escaped(client, subscribed, emulator) -> None:
    cust, _, pro, team = subscribed
    page = get(emulator, _session(client, cust, configuration=_full_config(client, pro, team).id).url)
    assert page.status == 200 and '<html lang="en">' in page.body
    for text in ("Acme billing", "Pro: $20.00 per month", "Renews on 15 February 2026", "Update plan", "Cancel plan",
                 "Visa ending 4242, expires 12/2034 (default)", "Invoice history", "Return to the site"):
        assert text in page.text, text
    assert "Ada &lt;Admin&gt;" in page.body and "Ada <Admin>" not in page.body
    bare = client.v1.billing_portal.configurations.create(params={"features": {"invoice_history": {"enabled": False}}})
    plain = get(emulator, _session(client, cust, configuration=bare.id).url)
    for text in ("Cancel plan", "Update plan", "Payment methods", "Invoice history"):
        assert text not in plain.text, text


def test_cancel_at_period_end_with_a_reason_then_renew(client, subscribed, emulator) -> None:
    cust, sub, pro, team = subscribed
    url = _session(client, cust, configuration=_full_config(client, pro, team).id).url
    page = get(emulator, f"{url}/subscriptions/{sub.id}/cancel")
    token = page.token()
    assert "It's too expensive" in page.text and "canceled at the end of the billing period" in page.text
    bad = post(emulator, f"{url}/subscriptions/{sub.id}/cancel", {"token": token, "reason": "bored"})
    assert bad.status == 400 and client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is False
    done = post(emulator, f"{url}/subscriptions/{sub.id}/cancel", {"token": token, "reason": "too_expensive"})
    assert done.status == 303 and done.location == f"{url}?notice=cancel_scheduled"
    s = client.v1.subscriptions.retrieve(sub.id)
    assert (s.cancel_at_period_end, s.cancellation_details.feedback, s.status) == (True, "too_expensive", "active")
    home = get(emulator, done.location)
    assert "Renew plan" in home.text and "Cancels on 15 February 2026" in home.text
    assert post(emulator, f"{url}/subscriptions/{sub.id}/renew", {"token": token}).status == 303
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is False


def test_immediate_cancel_mode(client, subscribed, emulator) -> None:
    cust, sub, pro, team = subscribed
    url = _session(client, cust, configuration=_full_config(client, pro, team, mode="immediately").id).url
    page = get(emulator, f"{url}/subscriptions/{sub.id}/cancel")
    assert "will be canceled now" in page.text
    done = post(emulator, f"{url}/subscriptions/{sub.id}/cancel", {"token": page.token()})
    assert done.location == f"{url}?notice=canceled"
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert "You have no active plan." in get(emulator, url).text


def test_change_plan_and_quantity(client, subscribed, emulator) -> None:
    cust, sub, pro, team = subscribed
    url = _session(client, cust, configuration=_full_config(client, pro, team).id).url
    page = get(emulator, f"{url}/subscriptions/{sub.id}/update")
    assert "Team: $50.00 per month" in page.text and f'value="{pro.id}" checked' in page.body
    token = page.token()
    rogue = make_price(client, 1, name="Cheap")
    bad = post(emulator, f"{url}/subscriptions/{sub.id}/update", {"token": token, "price": rogue.id})
    assert bad.status == 400 and bad.alert == "Choose one of the listed plans."
    bad_qty = post(emulator, f"{url}/subscriptions/{sub.id}/update", {"token": token, "price": team.id,
                                                                      "quantity": "-3"})
    assert bad_qty.status == 400 and "quantity" in bad_qty.alert
    done = post(emulator, f"{url}/subscriptions/{sub.id}/update", {"token": token, "price": team.id, "quantity": "3"})
    assert done.location == f"{url}?notice=updated"
    item = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert (item.price.id, item.quantity) == (team.id, 3)


def test_cards_add_decline_default_and_remove(client, subscribed, emulator) -> None:
    cust, _, pro, team = subscribed
    url = _session(client, cust, configuration=_full_config(client, pro, team).id).url
    first = cust.invoice_settings.default_payment_method
    page = get(emulator, f"{url}/payment_methods/new")
    token = page.token()
    declined = post(emulator, f"{url}/payment_methods/new", {"token": token, "card": "pm_card_chargeDeclinedLostCard",
                                                              "default": "1"})
    assert declined.status == 402 and declined.alert == "Your card was declined."
    assert len(client.v1.payment_methods.list(params={"customer": cust.id}).data) == 1
    added = post(emulator, f"{url}/payment_methods/new", {"token": token, "card": "pm_card_amex", "default": "1"})
    assert added.location == f"{url}?notice=card_added"
    new_default = client.v1.customers.retrieve(cust.id).invoice_settings.default_payment_method
    assert new_default != first and client.v1.payment_methods.retrieve(new_default).card.last4 == "0005"
    refused = post(emulator, f"{url}/payment_methods/{new_default}/remove", {"token": token})
    assert refused.status == 400 and "pays for an active plan" in refused.alert
    assert post(emulator, f"{url}/payment_methods/{first}/remove", {"token": token}).status == 303
    assert [p.id for p in client.v1.payment_methods.list(params={"customer": cust.id}).data] == [new_default]
    other = make_customer(client)
    theirs = other.invoice_settings.default_payment_method
    assert post(emulator, f"{url}/payment_methods/{theirs}/default", {"token": token}).status == 404
    assert post(emulator, f"{url}/payment_methods/{theirs}/remove", {"token": token}).status == 404
    assert client.v1.payment_methods.retrieve(theirs).customer == other.id


def test_billing_information(client, subscribed, emulator) -> None:
    cust, _, pro, team = subscribed
    url = _session(client, cust, configuration=_full_config(client, pro, team).id).url
    page = get(emulator, f"{url}/customer")
    assert 'value="ada@shop.test"' in page.body and 'name="phone"' not in page.body
    token = page.token()
    bad = post(emulator, f"{url}/customer", {"token": token, "email": "nope", "name": "Ada"})
    assert bad.status == 400 and "Invalid email address" in bad.alert
    done = post(emulator, f"{url}/customer", {"token": token, "email": "ada@new.test", "name": "Ada L.",
                                              "address_city": "London", "address_country": "GB"})
    assert done.status == 303
    c = client.v1.customers.retrieve(cust.id)
    assert (c.email, c.name, c.address.city, c.address.country) == ("ada@new.test", "Ada L.", "London", "GB")
    assert post(emulator, f"{url}/customer", {"token": token, "phone": "1" * 30}).status == 303
    assert client.v1.customers.retrieve(cust.id).phone is None          # phone is not an allowed update


def test_cancel_flow_with_retention_offer_and_redirect(client, subscribed, emulator) -> None:
    cust, sub, _pro, _team = subscribed
    coupon = client.v1.coupons.create(params={"percent_off": 25, "duration": "repeating", "duration_in_months": 3})
    session = _session(client, cust, flow_data={
        "type": "subscription_cancel",
        "subscription_cancel": {"subscription": sub.id,
                                "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": coupon.id}}},
        "after_completion": {"type": "redirect", "redirect": {"return_url": "https://shop.test/kept"}}})
    assert session.flow.type == "subscription_cancel"
    assert session.flow.subscription_cancel.retention.coupon_offer.coupon == coupon.id
    start = get(emulator, session.url)
    assert start.status == 303 and start.location == f"{session.url}/subscriptions/{sub.id}/cancel"
    page = get(emulator, start.location)
    assert "Stay and get 25% off" in page.text
    kept = post(emulator, f"{session.url}/subscriptions/{sub.id}/retention", {"token": page.token()})
    assert kept.status == 303 and kept.location == "https://shop.test/kept"
    s = client.v1.subscriptions.retrieve(sub.id)
    assert s.cancel_at_period_end is False and len(s.discounts) == 1
    assert get(emulator, session.url).status == 200                  # the flow is done: the home page now


def test_update_confirm_flow_with_hosted_confirmation(client, subscribed, emulator) -> None:
    cust, sub, _pro, team = subscribed
    item = sub["items"].data[0].id
    session = _session(client, cust, flow_data={
        "type": "subscription_update_confirm",
        "subscription_update_confirm": {"subscription": sub.id, "items": [{"id": item, "price": team.id,
                                                                          "quantity": 2}]},
        "after_completion": {"type": "hosted_confirmation",
                             "hosted_confirmation": {"custom_message": "Welcome to Team!"}}})
    page = get(emulator, get(emulator, session.url).location)
    assert "$50.00 per month, quantity 2" in page.text
    done = post(emulator, f"{session.url}/subscriptions/{sub.id}/confirm_update", {"token": page.token()})
    assert done.status == 200 and "Welcome to Team!" in done.text and RETURN in done.body
    got = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert (got.price.id, got.quantity) == (team.id, 2)


def test_payment_method_update_flow(client, subscribed, emulator) -> None:
    cust = subscribed[0]
    session = _session(client, cust, flow_data={"type": "payment_method_update"})
    start = get(emulator, session.url)
    assert start.location == f"{session.url}/payment_methods/new"
    page = get(emulator, start.location)
    done = post(emulator, start.location, {"token": page.token(), "card": "pm_card_mastercard", "default": "1"})
    assert done.status == 303 and done.location == f"{session.url}?notice=card_added"


@pytest.mark.parametrize(("flow", "param"), [
    ({"type": "subscription_pause"}, "flow_data[type]"),
    ({"type": "subscription_cancel"}, "flow_data[subscription_cancel]"),
    ({"type": "subscription_cancel", "subscription_cancel": {"subscription": "sub_nope"}},
     "flow_data[subscription_cancel][subscription]"),
    ({"type": "subscription_update", "subscription_update": {"subscription": "SUB"}}, "flow_data[type]"),
    ({"type": "payment_method_update", "after_completion": {"type": "redirect"}},
     "flow_data[after_completion][redirect]"),
    ({"type": "subscription_update_confirm", "subscription_update_confirm": {"subscription": "SUB",
                                                                             "items": [{"id": "si_nope"}]}},
     "flow_data[subscription_update_confirm][items][0][id]"),
])
def test_bad_flows(client, subscribed, flow, param) -> None:
    cust, sub, _, _ = subscribed
    for key in ("subscription_update", "subscription_update_confirm"):
        if key in flow:
            flow[key]["subscription"] = sub.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _session(client, cust, flow_data=flow)
    assert exc.value.param == param


def test_another_customers_subscription_and_stale_or_wrong_tokens(client, subscribed, emulator, clock) -> None:
    cust, sub, pro, _team = subscribed
    other = make_customer(client)
    theirs = client.v1.subscriptions.create(params={"customer": other.id, "items": [{"price": pro.id}]})
    with pytest.raises(stripe.InvalidRequestError):
        _session(client, cust, flow_data={"type": "subscription_cancel",
                                          "subscription_cancel": {"subscription": theirs.id}})
    url = _session(client, cust).url
    token = get(emulator, f"{url}/subscriptions/{sub.id}/cancel").token()
    assert get(emulator, f"{url}/subscriptions/{theirs.id}/cancel").status == 404
    assert post(emulator, f"{url}/subscriptions/{theirs.id}/cancel", {"token": token}).status == 404
    assert client.v1.subscriptions.retrieve(theirs.id).cancel_at_period_end is False
    other_url = _session(client, other).url
    assert post(emulator, f"{other_url}/subscriptions/{theirs.id}/cancel", {"token": token}).status == 403
    assert post(emulator, f"{url}/subscriptions/{sub.id}/cancel", {}).status == 403
    advance(emulator, clock, hours=2)                                 # a portal session lasts an hour
    expired = get(emulator, url)
    assert expired.status == 410 and RETURN in expired.body
