"""Every response of a broad billing flow, and every event payload, validated against the stripe SDK's own
annotated classes for the pinned API version (``sdk_shapes.Validator``); plus the fidelity fixes one by one."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from billingos.emulator import Emulator

from .billing_kit import DAY, T0, attach_card, customer, metered_price, price
from .sdk_shapes import Validator

# Every object type the flow below must have produced and checked (a floor: more is fine).
EXPECTED_TYPES = {
    "balance_transaction", "billing.meter", "billing.meter_event", "charge", "coupon", "customer", "discount",
    "entitlements.active_entitlement", "entitlements.feature", "event", "invoice", "invoiceitem", "line_item",
    "payment_intent", "payment_method", "plan", "price", "product", "product_feature", "promotion_code",
    "subscription", "subscription_item", "subscription_schedule", "tax_rate", "test_helpers.test_clock",
    "webhook_endpoint",
}


@pytest.fixture
def responses(emulator: Emulator) -> list[tuple[str, str, Any]]:
    """Every 2xx body, as it goes back to the SDK."""
    bodies: list[tuple[str, str, Any]] = []
    handle = emulator.handle

    def recording(method: str, path: str, query: str, body: str, headers: dict[str, str]):
        status, hdrs, payload = handle(method, path, query, body, headers)
        if status < 300:
            bodies.append((method, path, json.loads(payload)))
        return status, hdrs, payload

    emulator.handle = recording  # type: ignore[method-assign]
    return bodies


def _flow(client: Any, em: Emulator) -> None:
    pro, team = price(client, 2000, name="Pro"), price(client, 5000, name="Team")
    calls = metered_price(client, unit_amount=3)
    tiered = client.v1.prices.create(params={
        "product_data": {"name": "Seats"}, "currency": "usd", "billing_scheme": "tiered", "tiers_mode": "graduated",
        "recurring": {"interval": "month"}, "expand": ["tiers"],
        "tiers": [{"up_to": 5, "unit_amount": 700, "flat_amount": 100},
                  {"up_to": "inf", "unit_amount_decimal": "650.5"}]})
    feature = client.v1.entitlements.features.create(params={"name": "Export", "lookup_key": "export"})
    client.v1.products.features.create(pro.product, params={"entitlement_feature": feature.id})
    rate = client.v1.tax_rates.create(params={"display_name": "VAT", "percentage": 20, "inclusive": False})
    once = client.v1.coupons.create(params={"percent_off": 10, "duration": "once"})
    client.v1.coupons.create(params={"amount_off": 500, "currency": "usd", "duration": "forever",
                                     "applies_to": {"products": [pro.product]}})
    promo = client.v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": once.id}})

    # a trial with a metered item, tax and a discount; usage; an upgrade after the trial; renewals
    good = customer(client, email="a@b.co", name="Acme")
    sub = client.v1.subscriptions.create(params={
        "customer": good.id, "items": [{"price": pro.id}, {"price": calls.id}], "trial_period_days": 7,
        "default_tax_rates": [rate.id], "discounts": [{"promotion_code": promo.id}],
        "expand": ["latest_invoice", "items.data.price.product"]})
    client.v1.billing.meter_events.create(params={"event_name": "API_calls", "payload": {
        "stripe_customer_id": good.id, "value": "1200"}})
    em.advance_to(T0 + 10 * DAY)
    item = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    change = {"items": [{"id": item.id, "price": team.id}], "proration_behavior": "create_prorations"}
    client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": change})
    client.v1.subscriptions.update(sub.id, params=change)
    client.v1.subscription_items.create(params={"subscription": sub.id, "price": tiered.id, "quantity": 7,
                                                "proration_behavior": "always_invoice"})

    # a card that fails at renewal: past_due, retries, then paid with a good card
    payer = customer(client)
    failing = client.v1.subscriptions.create(params={"customer": payer.id, "items": [{"price": pro.id}]})
    attach_card(client, payer.id, "pm_card_chargeCustomerFail")
    em.advance_to(T0 + 45 * DAY)
    late = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(failing.id).latest_invoice,
                                       params={"expand": ["payment_intent"]})
    good_pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": payer.id})
    client.v1.invoices.pay(late.id, params={"payment_method": good_pm.id})
    em.advance_to(T0 + 50 * DAY)

    # a manual invoice; another voided; payments, charges, balance transactions
    client.v1.invoice_items.create(params={"customer": good.id, "amount": 1234, "currency": "usd",
                                          "description": "Setup"})
    manual = client.v1.invoices.create(params={"customer": good.id, "pending_invoice_items_behavior": "include"})
    if client.v1.invoices.finalize_invoice(manual.id).status == "open":
        client.v1.invoices.pay(manual.id)
    voided = client.v1.invoices.create(params={"customer": good.id, "collection_method": "send_invoice",
                                               "days_until_due": 10})
    client.v1.invoice_items.create(params={"customer": good.id, "amount": 99, "currency": "usd",
                                          "invoice": voided.id})
    client.v1.invoices.finalize_invoice(voided.id)
    client.v1.invoices.void_invoice(voided.id)
    client.v1.invoices.list(params={"limit": 100, "expand": ["data.discounts"]})
    client.v1.invoices.line_items.list(manual.id)
    client.v1.payment_intents.list(params={"limit": 100})
    charges = client.v1.charges.list(params={"limit": 100})
    client.v1.charges.retrieve(charges.data[0].id, params={"expand": ["balance_transaction", "payment_intent"]})
    client.v1.balance_transactions.list(params={"limit": 100})

    # a schedule, a test clock, cancellations, entitlements, endpoints, events
    client.v1.subscription_schedules.create(params={
        "customer": good.id, "start_date": int(em.now()) + DAY, "end_behavior": "release",
        "phases": [{"items": [{"price": pro.id}], "duration": {"interval": "month"}},
                   {"items": [{"price": team.id}], "duration": {"interval": "month"}}]})
    em.advance_to(T0 + 52 * DAY)
    test_clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0 + 52 * DAY})
    on_clock = customer(client, test_clock=test_clock.id)
    client.v1.subscriptions.create(params={"customer": on_clock.id, "items": [{"price": pro.id}]})
    client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + 85 * DAY})
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    client.v1.subscriptions.cancel(failing.id)
    client.v1.subscriptions.list(params={"status": "all", "expand": ["data.latest_invoice"]})
    client.v1.subscriptions.retrieve(sub.id, params={"expand": ["discounts", "customer", "schedule"]})
    client.v1.entitlements.active_entitlements.list(params={"customer": good.id})
    client.v1.webhook_endpoints.create(params={"url": "https://example.com/hook", "enabled_events": ["*"]})
    client.v1.coupons.list()
    client.v1.promotion_codes.list()
    client.v1.customers.delete(payer.id)
    page = client.v1.events.list(params={"limit": 100})
    while page.has_more:
        page = client.v1.events.list(params={"limit": 100, "starting_after": page.data[-1].id})


def test_every_response_matches_the_sdk_classes(client: Any, emulator: Emulator, responses: list) -> None:
    _flow(client, emulator)
    v = Validator()
    for method, path, body in responses:
        v.top(body, f"{method} {path}")
    for event in emulator.store.all("event"):           # what a webhook endpoint receives
        v.top(event["data"]["object"], f"{event['type']} {event['id']}")
    assert v.errors == []
    assert v.types >= EXPECTED_TYPES, sorted(EXPECTED_TYPES - v.types)
    assert len(responses) > 60 and v.objects > 2000


# --- the validator can fail ----------------------------------------------------------------------------
def test_the_validator_catches_each_kind_of_mistake() -> None:
    v = Validator()
    v.top({"id": "cpn_1", "object": "coupon", "amount_off": None, "applies_to": None, "created": "yesterday",
           "currency": None, "duration": "once", "duration_in_months": None, "livemode": False,
           "max_redemptions": None, "metadata": {}, "name": None, "percent_off": 10.0, "redeem_by": None,
           "times_redeemed": 0, "valid": True, "color": "red"}, "c")
    assert sorted(v.errors) == ["c.applies_to: null, but Stripe omits it when empty",
                                "c.created: expected an int, got 'yesterday'",
                                "c: keys the SDK does not declare: ['color']"]
    v = Validator()
    v.top({"id": "tr_1", "object": "tax_rate"}, "t")
    assert len(v.errors) == 1 and v.errors[0].startswith("t: missing keys ['active'")


# --- the fidelity fixes, each on its own --------------------------------------------------------------
def test_an_unknown_id_in_a_parameter_is_400_and_in_the_path_404(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(params={"customer": "cus_nope", "items": [{"price": "price_x"}]})
    assert (exc.value.http_status, exc.value.code, exc.value.param) == (400, "resource_missing", "customer")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.retrieve("cus_nope")
    assert (exc.value.http_status, exc.value.code) == (404, "resource_missing")


def test_a_non_integer_is_parameter_invalid_integer(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(params={"product_data": {"name": "x"}, "currency": "usd", "unit_amount": "12.5"})
    assert (exc.value.code, exc.value.param) == ("parameter_invalid_integer", "unit_amount")


def test_expansion_through_an_embedded_list_and_a_real_balance_transaction(client: Any) -> None:
    pro = price(client, 2000, name="Pro")
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client).id, "items": [{"price": pro.id}],
        "expand": ["items.data.price.product", "latest_invoice.payment_intent.latest_charge"]})
    assert sub["items"].data[0].price.product.name == "Pro"
    charge = sub.latest_invoice.payment_intent.latest_charge
    txn = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert (txn.source, txn.amount, txn.fee, txn.net) == (charge.id, 2000, 88, 1912)   # 2.9% + 30
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.retrieve(sub.id, params={"expand": ["items.price"]})   # Stripe needs ``data``


def test_keys_stripe_omits_are_absent_not_null(client: Any) -> None:
    calls = metered_price(client)
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": calls.id}],
                                                 "expand": ["latest_invoice.payment_intent"]})
    raw = sub.to_dict()
    assert "quantity" not in raw["items"]["data"][0]
    assert "threshold_reason" not in raw["latest_invoice"]
    coupon = client.v1.coupons.create(params={"percent_off": 5}).to_dict()
    assert "applies_to" not in coupon
