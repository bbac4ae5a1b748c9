"""Subscriptions and subscription items in the emulator, through the real stripe SDK."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator

from .billing_kit import DAY, T0, customer, event_types, events_of, mark, metered_price, price


def test_create_charges_at_once_and_emits_stripes_events_in_order(client, emulator: Emulator) -> None:
    pro = price(client, 2000)
    cust = customer(client)
    start = mark(emulator)
    sub = client.v1.subscriptions.create(params={
        "customer": cust.id, "items": [{"price": pro.id, "quantity": 2}], "metadata": {"plan": "pro"},
        "expand": ["latest_invoice.payment_intent"]})
    assert sub.status == "active"
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (T0, T0 + 31 * DAY)   # Jan 15 → Feb 15
    assert item.quantity == 2 and item.price.id == pro.id and item.plan.amount == 2000
    assert sub.billing_cycle_anchor == T0 and sub.start_date == T0 and sub.metadata.to_dict() == {"plan": "pro"}
    inv = sub.latest_invoice
    assert inv.status == "paid" and inv.billing_reason == "subscription_create"
    assert (inv.total, inv.amount_due, inv.amount_paid, inv.amount_remaining) == (4000, 4000, 4000, 0)
    assert inv.payment_intent.status == "succeeded" and inv.payment_intent.amount == 4000
    assert inv.hosted_invoice_url.startswith("https://invoice.stripe.test/")
    assert inv.lines.data[0].description == "2 × Pro (at $20.00 / month)"
    assert event_types(emulator, start) == [
        "customer.subscription.created", "invoice.created", "invoice.finalized", "payment_intent.created",
        "charge.succeeded", "payment_intent.succeeded", "invoice.paid", "invoice.payment_succeeded",
        "customer.subscription.updated"]
    created = events_of(emulator, "customer.subscription.created", start)[0]
    assert created["data"]["object"]["status"] == "incomplete" and created["created"] == T0
    flipped = events_of(emulator, "customer.subscription.updated", start)[0]
    assert flipped["data"]["previous_attributes"] == {"status": "incomplete"}
    charge = client.v1.charges.list(params={"customer": cust.id}).data[0]
    assert charge.status == "succeeded" and charge.amount == 4000 and charge.paid


def test_trial_without_a_card(client, emulator: Emulator) -> None:
    cust = customer(client, card=None)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}],
                                                 "trial_period_days": 14, "expand": ["latest_invoice"]})
    assert sub.status == "trialing"
    assert (sub.trial_start, sub.trial_end) == (T0, T0 + 14 * DAY)
    assert sub["items"].data[0].current_period_end == T0 + 14 * DAY and sub.billing_cycle_anchor == T0 + 14 * DAY
    assert sub.latest_invoice.status == "paid" and sub.latest_invoice.total == 0
    assert sub.latest_invoice.lines.data[0].description == "Trial period for Pro"
    assert events_of(emulator, "customer.subscription.trial_will_end") == []   # sent 3 days before, later


def test_short_trial_sends_trial_will_end_at_once(client, emulator: Emulator) -> None:
    cust = customer(client, card=None)
    client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}],
                                           "trial_end": T0 + 2 * DAY})
    assert len(events_of(emulator, "customer.subscription.trial_will_end")) == 1


def test_trial_from_plan_uses_the_price_trial(client) -> None:
    p = price(client, recurring={"trial_period_days": 7})
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": p.id}],
                                                 "trial_from_plan": True})
    assert sub.status == "trialing" and sub.trial_end == T0 + 7 * DAY


def test_declined_first_payment_leaves_the_subscription_incomplete(client, emulator: Emulator) -> None:
    cust = customer(client, card="pm_card_chargeCustomerFail")
    start = mark(emulator)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}],
                                                 "expand": ["latest_invoice.payment_intent"]})
    assert sub.status == "incomplete"
    assert sub.latest_invoice.status == "open" and sub.latest_invoice.attempt_count == 1
    pi = sub.latest_invoice.payment_intent
    assert pi.status == "requires_payment_method" and pi.last_payment_error.decline_code == "generic_decline"
    assert sub.latest_invoice.next_payment_attempt is None      # the first invoice is not retried
    assert event_types(emulator, start)[-4:] == ["payment_intent.created", "charge.failed",
                                                 "payment_intent.payment_failed", "invoice.payment_failed"]


def test_default_incomplete_waits_for_confirmation(client, emulator: Emulator) -> None:
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={
        "customer": cust.id, "items": [{"price": price(client).id}], "payment_behavior": "default_incomplete",
        "expand": ["latest_invoice.payment_intent"]})
    assert sub.status == "incomplete"
    pi = sub.latest_invoice.payment_intent
    assert pi.status == "requires_payment_method" and client.v1.charges.list().data == []
    pm = client.v1.payment_methods.list(params={"customer": cust.id}).data[0]
    confirmed = client.v1.payment_intents.confirm(pi.id, params={"payment_method": pm.id})
    assert confirmed.status == "succeeded"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert client.v1.invoices.retrieve(sub.latest_invoice.id).status == "paid"


def test_error_if_incomplete_refuses_and_writes_nothing(client, emulator: Emulator) -> None:
    cust = customer(client, card="pm_card_chargeCustomerFail")
    p = price(client)
    before = dict(emulator.store.by_kind)
    with pytest.raises(stripe.CardError) as exc:
        client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": p.id}],
                                               "payment_behavior": "error_if_incomplete"})
    assert exc.value.code == "card_declined"
    for kind in ("subscription", "invoice", "payment_intent", "charge"):
        assert emulator.store.all(kind) == [], kind
    assert {k: len(v) for k, v in emulator.store.by_kind.items()} == {k: len(v) for k, v in before.items()}
    nocard = customer(client, card=None)
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.subscriptions.create(params={"customer": nocard.id, "items": [{"price": p.id}],
                                               "payment_behavior": "error_if_incomplete"})
    assert "no attached payment source" in str(exc2.value.user_message)


def test_pending_if_incomplete_is_refused_clearly(client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(params={"customer": customer(client).id,
                                               "items": [{"price": price(client).id}],
                                               "payment_behavior": "pending_if_incomplete"})
    assert exc.value.param == "payment_behavior" and "not supported" in str(exc.value.user_message)


def test_send_invoice_is_active_with_an_open_invoice(client) -> None:
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client, card=None).id, "items": [{"price": price(client).id}],
        "collection_method": "send_invoice", "days_until_due": 7, "expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.days_until_due == 7
    assert sub.latest_invoice.status == "open" and sub.latest_invoice.due_date == T0 + 7 * DAY
    assert sub.latest_invoice.amount_remaining == 2000


def test_base_plus_metered_items(client) -> None:
    base, calls = price(client, 5000, name="Base"), metered_price(client)
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client).id, "items": [{"price": base.id}, {"price": calls.id}],
        "expand": ["latest_invoice"]})
    assert [i.to_dict().get("quantity") for i in sub["items"].data] == [1, None]
    assert "quantity" not in sub["items"].data[1]          # a metered item has none: Stripe omits the key
    assert sub.latest_invoice.total == 5000     # usage is billed in arrears


def test_future_billing_cycle_anchor_prorates_the_first_period(client) -> None:
    anchor = T0 + 17 * DAY                  # Feb 1
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client, 3100).id}],
                                                 "billing_cycle_anchor": anchor, "expand": ["latest_invoice"]})
    assert sub["items"].data[0].current_period_end == anchor
    # 17 of the 31 days of Jan 1 → Feb 1: 3100 × 17/31 = 1700
    assert sub.latest_invoice.total == 1700
    assert sub.latest_invoice.lines.data[0].parent.subscription_item_details.proration is True


def test_cancel_now_and_at_period_end(client, emulator: Emulator) -> None:
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}]})
    upd = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    end = sub["items"].data[0].current_period_end
    assert upd.cancel_at_period_end is True and upd.cancel_at == end and upd.canceled_at == T0
    assert upd.status == "active"
    ev = events_of(emulator, "customer.subscription.updated")[-1]
    assert ev["data"]["previous_attributes"] == {"cancel_at_period_end": False, "cancel_at": None,
                                                  "canceled_at": None}
    back = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert back.cancel_at is None and back.canceled_at is None
    gone = client.v1.subscriptions.cancel(sub.id, params={"cancellation_details": {"feedback": "too_expensive"}})
    assert gone.status == "canceled" and gone.ended_at == T0 and gone.canceled_at == T0
    assert gone.cancellation_details.feedback == "too_expensive"
    assert events_of(emulator, "customer.subscription.deleted")[0]["data"]["object"]["status"] == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub.id, params={"items": [{"price": price(client).id}]})
    assert client.v1.subscriptions.update(sub.id, params={"metadata": {"a": "b"}}).metadata.to_dict() == {"a": "b"}


def test_cancel_with_prorate_and_invoice_now_credits_unused_time(client) -> None:
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client, 3100).id}]})
    client.v1.subscriptions.cancel(sub.id, params={"prorate": True, "invoice_now": True})
    final = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert final.total == -3100    # cancelled at the start of the period: all of it unused
    assert final.lines.data[0].parent.subscription_item_details.proration is True
    assert client.v1.customers.retrieve(cust.id).balance == -3100


def test_pause_collection_and_resume_of_a_paused_subscription(client, emulator: Emulator) -> None:
    cust = customer(client, card=None)
    sub = client.v1.subscriptions.create(params={
        "customer": cust.id, "items": [{"price": price(client).id}], "trial_period_days": 3,
        "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}}})
    upd = client.v1.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "keep_as_draft"}})
    assert upd.pause_collection.behavior == "keep_as_draft"
    assert client.v1.subscriptions.update(sub.id, params={"pause_collection": ""}).pause_collection is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.resume(sub.id)          # only paused subscriptions resume
    emulator.advance_to(T0 + 3 * DAY)
    assert client.v1.subscriptions.retrieve(sub.id).status == "paused"
    assert events_of(emulator, "customer.subscription.paused")
    from .billing_kit import attach_card
    attach_card(client, cust.id)
    resumed = client.v1.subscriptions.resume(sub.id, params={"expand": ["latest_invoice"]})
    assert resumed.status == "active" and resumed.latest_invoice.status == "paid"
    assert resumed["items"].data[0].current_period_start == T0 + 3 * DAY
    assert events_of(emulator, "customer.subscription.resumed")


def test_retrieve_list_search(client) -> None:
    cust = customer(client)
    p = price(client)
    a = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": p.id}],
                                               "metadata": {"org": "42"}})
    b = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}]})
    client.v1.subscriptions.cancel(b.id)
    assert client.v1.subscriptions.retrieve(a.id).id == a.id
    assert [s.id for s in client.v1.subscriptions.list(params={"customer": cust.id}).data] == [a.id]
    assert {s.id for s in client.v1.subscriptions.list(params={"status": "all"}).data} == {a.id, b.id}
    assert [s.id for s in client.v1.subscriptions.list(params={"price": p.id}).data] == [a.id]
    found = client.v1.subscriptions.search(params={"query": "metadata['org']:'42'"})
    assert [s.id for s in found.data] == [a.id]


def test_subscription_items_crud(client, emulator: Emulator) -> None:
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client).id}]})
    seats = price(client, 500, name="Seats")
    added = client.v1.subscription_items.create(params={"subscription": sub.id, "price": seats.id, "quantity": 3,
                                                        "proration_behavior": "none"})
    assert added.subscription == sub.id and added.quantity == 3
    assert len(client.v1.subscription_items.list(params={"subscription": sub.id}).data) == 2
    changed = client.v1.subscription_items.update(added.id, params={"quantity": 5, "proration_behavior": "none"})
    assert changed.quantity == 5 and client.v1.subscription_items.retrieve(added.id).quantity == 5
    gone = client.v1.subscription_items.delete(added.id, params={"proration_behavior": "none"})
    assert gone.deleted is True
    assert [i.id for i in client.v1.subscriptions.retrieve(sub.id)["items"].data] == [sub["items"].data[0].id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscription_items.retrieve("si_nope")
    assert exc.value.http_status == 404


BAD_CREATE = [
    ({}, "customer"),
    ({"customer": "cus_missing", "items": [{"price": "x"}]}, "customer"),
    ({"items": [{"price": "price_missing"}]}, "items[0][price]"),
    ({"items": []}, "items"),
    ({"items": [{"price": "$P", "quantity": -1}]}, "items[0][quantity]"),
    ({"items": [{"price": "$P", "quantity": "lots"}]}, "items[0][quantity]"),
    ({"items": [{"price": "$P"}], "collection_method": "by_carrier_pigeon"}, "collection_method"),
    ({"items": [{"price": "$P"}], "payment_behavior": "sometimes"}, "payment_behavior"),
    ({"items": [{"price": "$P"}], "trial_period_days": 3, "trial_end": T0 + DAY}, "trial_end"),
    ({"items": [{"price": "$P"}], "trial_end": T0 - 5}, "trial_end"),
    ({"items": [{"price": "$P"}], "days_until_due": 3}, "days_until_due"),
    ({"items": [{"price": "$P"}], "billing_cycle_anchor": T0 - 1}, "billing_cycle_anchor"),
    ({"items": [{"price": "$P"}], "default_payment_method": "pm_missing"}, "default_payment_method"),
    ({"items": [{"price": "$P"}], "discounts": [{"coupon": "nope"}]}, "discounts[0][coupon]"),
    ({"items": [{"price": "$P"}], "default_tax_rates": ["txr_nope"]}, "default_tax_rates[0]"),
    ({"items": [{"price": "$P"}, {"price": "$Y"}]}, "items"),
    ({"items": [{"price": "$P"}], "trial_settings": {"end_behavior": {"missing_payment_method": "x"}}},
     "trial_settings[end_behavior][missing_payment_method]"),
    ({"items": [{"price": "$P"}], "bogus": "1"}, "bogus"),
]


@pytest.mark.parametrize("params,param", BAD_CREATE)
def test_create_refuses_bad_params_and_writes_nothing(client, emulator: Emulator, params, param) -> None:
    cust = customer(client)
    monthly, yearly = price(client), price(client, 20000, interval="year")
    sub_in = {"customer": cust.id, **params} if "customer" not in params and params else params
    for item in sub_in.get("items", []):
        item["price"] = {"$P": monthly.id, "$Y": yearly.id}.get(item["price"], item["price"])
    events_before = mark(emulator)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create(params=sub_in)
    assert exc.value.param == param
    assert emulator.store.all("subscription") == [] and emulator.store.all("invoice") == []
    assert mark(emulator) == events_before


BAD_UPDATE = [
    ({"items": [{"id": "si_nope", "price": "$P"}]}, "items[0][id]"),
    ({"items": [{"price": "price_missing"}]}, "items[0][price]"),
    ({"proration_behavior": "sometimes"}, "proration_behavior"),
    ({"billing_cycle_anchor": "later"}, "billing_cycle_anchor"),
    ({"cancel_at": T0 - 10}, "cancel_at"),
    ({"pause_collection": {"behavior": "nap"}}, "pause_collection[behavior]"),
    ({"proration_date": T0 - 40 * DAY, "items": [{"price": "$Y2"}]}, "proration_date"),
    ({"items": [{"price": "$YEAR"}]}, "items"),
    ({"trial_end": T0 + DAY}, "trial_end"),
    ({"default_payment_method": "pm_missing"}, "default_payment_method"),
    ({"cancellation_details": {"feedback": "meh"}}, "cancellation_details[feedback]"),
]


@pytest.mark.parametrize("params,param", BAD_UPDATE)
def test_update_refuses_bad_params_and_writes_nothing(client, emulator: Emulator, params, param) -> None:
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client).id}]})
    subs = {"$P": price(client).id, "$Y2": price(client, 9000).id, "$YEAR": price(client, 1, interval="year").id}
    for item in params.get("items", []):
        item["price"] = subs.get(item.get("price"), item.get("price"))
        if item["price"] is None:
            del item["price"]
    before, snapshot = mark(emulator), client.v1.subscriptions.retrieve(sub.id).to_dict()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.update(sub.id, params=params)
    assert exc.value.param == param
    assert mark(emulator) == before
    assert client.v1.subscriptions.retrieve(sub.id).to_dict() == snapshot
    assert emulator.store.all("invoiceitem") == []
