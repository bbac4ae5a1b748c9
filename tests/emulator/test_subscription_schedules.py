"""Subscription schedules through the real SDK: from_subscription, phases applied at their boundaries (in time
order with renewals), release, cancel, end behaviours, validation that writes nothing, shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from billingos.emulator import Emulator

from .billing_kit import DAY, T0, advance, customer, event_types, events_of, mark, price
from .test_conformance import FIXTURE_FILE, _check


@pytest.fixture
def plans(client) -> dict[str, Any]:
    return {"team": price(client, 9000, name="Team"), "basic": price(client, 1000, name="Basic"),
            "pro": price(client, 3000, name="Pro")}


def _sub(client, price_id: str, **extra: Any):
    return client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": price_id}],
                                                  **extra})


def _downgrade(client, sched, new_price: str, **phase: Any):
    """The billingos shape: the current phase until the period end, then the new items, then release."""
    cur = sched.phases[0]
    return client.v1.subscription_schedules.update(sched.id, params={"end_behavior": "release", "phases": [
        {"items": [{"price": i.price, "quantity": i.quantity} for i in cur["items"]],
         "start_date": cur.start_date, "end_date": cur.end_date},
        {"items": [{"price": new_price, "quantity": 1}], "proration_behavior": "none",
         "duration": {"interval": "month"}, **phase}]})


def test_from_subscription_mirrors_the_current_period(client, emulator: Emulator, plans) -> None:
    sub = _sub(client, plans["team"].id)
    start = mark(emulator)
    sched = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    item = sub["items"].data[0]
    assert sched.status == "active" and sched.end_behavior == "release" and sched.subscription == sub.id
    assert sched.id.startswith("sub_sched_") and sched.customer == sub.customer
    assert (sched.current_phase.start_date, sched.current_phase.end_date) == (
        item.current_period_start, item.current_period_end)
    phase = sched.phases[0]
    assert [(i.price, i.quantity) for i in phase["items"]] == [(plans["team"].id, 1)]
    assert (phase.start_date, phase.end_date) == (item.current_period_start, item.current_period_end)
    assert client.v1.subscriptions.retrieve(sub.id).schedule == sched.id
    assert event_types(emulator, start) == ["subscription_schedule.created", "customer.subscription.updated"]
    assert events_of(emulator, "customer.subscription.updated", start)[0]["data"]["previous_attributes"] == {
        "schedule": None}
    assert client.v1.subscription_schedules.retrieve(sched.id).phases[0].currency == "usd"


def test_downgrade_at_the_period_end_bills_the_new_price_at_renewal(client, emulator: Emulator, clock,
                                                                    plans) -> None:
    sub = _sub(client, plans["team"].id)
    sched = _downgrade(client, client.v1.subscription_schedules.create(params={"from_subscription": sub.id}),
                       plans["basic"].id)
    assert [len(p["items"]) for p in sched.phases] == [1, 1]
    assert sched.phases[1].start_date == sched.phases[0].end_date == T0 + 31 * DAY
    assert sched.phases[1].end_date == T0 + 59 * DAY                         # one month: Feb 15 -> Mar 15
    advance(emulator, clock, days=30)
    still = client.v1.subscriptions.retrieve(sub.id)
    assert still["items"].data[0].price.id == plans["team"].id                 # until the period end
    start = mark(emulator)
    advance(emulator, clock, days=2)
    renewed = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert renewed["items"].data[0].price.id == plans["basic"].id
    assert renewed["items"].data[0].id == sub["items"].data[0].id            # swapped in place
    inv = renewed.latest_invoice
    assert inv.billing_reason == "subscription_cycle" and inv.total == 1000 and inv.status == "paid"
    assert [ln.amount for ln in inv.lines.data] == [1000]
    assert not [ii for ii in emulator.store.all("invoiceitem") if ii.get("proration")]
    types = event_types(emulator, start, prefix=("subscription_schedule", "customer.subscription", "invoice.created"))
    assert types == ["subscription_schedule.updated", "customer.subscription.updated",
                     "customer.subscription.updated", "invoice.created"]
    change = events_of(emulator, "customer.subscription.updated", start)[0]
    assert change["data"]["object"]["items"]["data"][0]["price"]["id"] == plans["basic"].id
    assert change["data"]["previous_attributes"]["items"]["data"][0]["price"]["id"] == plans["team"].id
    sched = client.v1.subscription_schedules.retrieve(sched.id)
    assert sched.status == "active" and sched.current_phase.start_date == T0 + 31 * DAY
    # the last phase ends: the subscription is released and renews on its own
    start = mark(emulator)
    advance(emulator, clock, days=28)
    sched = client.v1.subscription_schedules.retrieve(sched.id)
    assert (sched.status, sched.subscription, sched.released_subscription) == ("released", None, sub.id)
    assert sched.released_at == T0 + 59 * DAY and sched.current_phase is None
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.schedule is None and sub.latest_invoice.total == 1000
    assert event_types(emulator, start, prefix=("subscription_schedule",)) == ["subscription_schedule.released"]


def test_end_behavior_cancel_completes_the_schedule_and_cancels(client, emulator: Emulator, clock, plans) -> None:
    sub = _sub(client, plans["pro"].id)
    sched = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    client.v1.subscription_schedules.update(sched.id, params={"end_behavior": "cancel"})
    start = mark(emulator)
    advance(emulator, clock, days=32)
    sched = client.v1.subscription_schedules.retrieve(sched.id)
    assert sched.status == "completed" and sched.completed_at == T0 + 31 * DAY
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == T0 + 31 * DAY
    assert event_types(emulator, start, prefix=("subscription_schedule", "customer.subscription.deleted",
                                                "invoice.created")) == [
        "customer.subscription.deleted", "subscription_schedule.completed"]


def test_release_detaches_and_cannot_repeat(client, emulator: Emulator, clock, plans) -> None:
    sub = _sub(client, plans["team"].id)
    sched = _downgrade(client, client.v1.subscription_schedules.create(params={"from_subscription": sub.id}),
                       plans["basic"].id)
    start = mark(emulator)
    released = client.v1.subscription_schedules.release(sched.id)
    assert (released.status, released.released_subscription, released.subscription) == ("released", sub.id, None)
    assert event_types(emulator, start) == ["subscription_schedule.released", "customer.subscription.updated"]
    with pytest.raises(stripe.InvalidRequestError, match="currently in the `released` status"):
        client.v1.subscription_schedules.release(sched.id)
    advance(emulator, clock, days=32)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.schedule is None and sub["items"].data[0].price.id == plans["team"].id   # nothing applied


def test_cancel_cancels_the_subscription(client, emulator: Emulator, plans) -> None:
    sub = _sub(client, plans["team"].id)
    sched = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    start = mark(emulator)
    canceled = client.v1.subscription_schedules.cancel(sched.id, params={"invoice_now": False, "prorate": False})
    assert canceled.status == "canceled" and canceled.canceled_at == T0
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert event_types(emulator, start, prefix=("subscription_schedule", "customer.subscription")) == [
        "customer.subscription.deleted", "subscription_schedule.canceled"]
    with pytest.raises(stripe.InvalidRequestError, match="cannot update a subscription schedule"):
        client.v1.subscription_schedules.update(sched.id, params={"metadata": {"a": "b"}})


@pytest.mark.parametrize("change", [{"cancel_at_period_end": True}, {"cancel_at_period_end": False},
                                    {"cancel_at": T0 + 5 * DAY}])
def test_a_scheduled_subscription_refuses_direct_cancelation_changes(client, emulator: Emulator, plans,
                                                                     change: dict[str, Any]) -> None:
    """Stripe's wording (laravel/cashier-stripe#1748, dust-tt/dust#32051): the schedule owns the end date."""
    sub = _sub(client, plans["team"].id)
    sched = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    before, start = client.v1.subscriptions.retrieve(sub.id).to_dict(), mark(emulator)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.update(sub.id, params={"metadata": {"a": "b"}, **change})
    assert exc.value.http_status == 400 and exc.value.code is None
    assert exc.value.user_message == (
        f"The subscription is managed by the subscription schedule `{sched.id}`, and updating any cancelation "
        "behavior directly is not allowed. Please update the schedule instead.")
    assert exc.value.error is not None and exc.value.error.type == "invalid_request_error"
    assert client.v1.subscriptions.retrieve(sub.id).to_dict() == before and event_types(emulator, start) == []
    assert client.v1.subscriptions.update(sub.id, params={"metadata": {"a": "b"}}).metadata.to_dict() == {"a": "b"}
    client.v1.subscription_schedules.release(sched.id)      # detached: the subscription's own again
    assert client.v1.subscriptions.update(sub.id, params=change).schedule is None


def test_a_subscription_that_ends_cancels_its_schedule(client, emulator: Emulator, plans) -> None:
    sub = _sub(client, plans["team"].id)
    sched = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    client.v1.subscriptions.cancel(sub.id)
    sched = client.v1.subscription_schedules.retrieve(sched.id)
    assert sched.status == "canceled" and events_of(emulator, "subscription_schedule.canceled")


def test_changing_the_current_phase_applies_now_with_prorations(client, emulator: Emulator, clock, plans) -> None:
    sub = _sub(client, plans["basic"].id)
    sched = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    advance(emulator, clock, days=10)
    cur = sched.phases[0]
    client.v1.subscription_schedules.update(sched.id, params={
        "proration_behavior": "always_invoice",
        "phases": [{"items": [{"price": plans["pro"].id}], "start_date": cur.start_date, "end_date": cur.end_date}]})
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub["items"].data[0].price.id == plans["pro"].id
    assert sub.latest_invoice.billing_reason == "subscription_update" and sub.latest_invoice.total > 0


def test_customer_and_phases_start_now_or_later(client, emulator: Emulator, clock, plans) -> None:
    cust = customer(client)
    now = client.v1.subscription_schedules.create(params={
        "customer": cust.id, "start_date": "now",
        "phases": [{"items": [{"price": plans["basic"].id, "quantity": 2}], "duration": {"interval": "month"}}]})
    assert now.status == "active" and now.subscription
    sub = client.v1.subscriptions.retrieve(now.subscription, params={"expand": ["latest_invoice"]})
    assert sub.schedule == now.id and sub.latest_invoice.total == 2000 and sub.status == "active"
    later = client.v1.subscription_schedules.create(params={
        "customer": cust.id, "start_date": T0 + 5 * DAY, "end_behavior": "cancel",
        "phases": [{"items": [{"price": plans["pro"].id}], "end_date": T0 + 20 * DAY}]})
    assert later.status == "not_started" and later.subscription is None and later.current_phase is None
    listed = client.v1.subscription_schedules.list(params={"customer": cust.id, "scheduled": True})
    assert [s.id for s in listed.data] == [later.id]
    advance(emulator, clock, days=6)
    later = client.v1.subscription_schedules.retrieve(later.id)
    assert later.status == "active" and later.current_phase.start_date == T0 + 5 * DAY
    made = client.v1.subscriptions.retrieve(later.subscription)
    assert made.start_date == T0 + 5 * DAY and made.schedule == later.id
    advance(emulator, clock, days=15)
    assert client.v1.subscriptions.retrieve(later.subscription).status == "canceled"
    assert client.v1.subscription_schedules.retrieve(later.id).status == "completed"


def test_test_clock_customers_move_with_their_clock(client, emulator: Emulator, plans) -> None:
    tc = client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})
    cust = customer(client, test_clock=tc.id)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": plans["team"].id}]})
    sched = _downgrade(client, client.v1.subscription_schedules.create(params={"from_subscription": sub.id}),
                       plans["basic"].id)
    assert sched.test_clock == tc.id
    client.v1.test_helpers.test_clocks.advance(tc.id, params={"frozen_time": T0 + 32 * DAY})
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub["items"].data[0].price.id == plans["basic"].id and sub.latest_invoice.total == 1000


@pytest.mark.parametrize(("params", "message", "param"), [
    ({"phases": [{"items": [{"price": "price_nope"}]}]}, "No such price: 'price_nope'", "phases[0][items][0][price]"),
    ({"phases": [{"items": [{"price": "TEAM"}], "end_date": 1}]}, "must be after the phase's start_date",
     "phases[0][end_date]"),
    ({"phases": [{"items": [{"price": "TEAM"}], "start_date": T0 - 10}]},
     "can not modify the start date of the current phase", "phases[0][start_date]"),
    ({"phases": [{"items": [{"price": "TEAM"}]}, {"items": [{"price": "BASIC"}], "start_date": T0 + 3 * DAY}]},
     "phases must be contiguous", "phases[1][start_date]"),
    ({"phases": [{"items": [{"price": "TEAM"}], "iterations": 2}]}, "use duration", "phases[0][iterations]"),
    ({"phases": [{"items": [{"price": "TEAM"}], "end_date": T0 + 9 * DAY, "duration": {"interval": "month"}}]},
     "only specify one of these parameters: duration, end_date", "phases[0][end_date]"),
    ({"phases": [{"items": [{"price": "TEAM"}], "trial_end": T0 + DAY}]}, "not supported", "phases[0][trial_end]"),
    ({"phases": ""}, "at least one phase", "phases"),
    ({"end_behavior": "renew"}, "Invalid end_behavior", "end_behavior"),
    ({"phases": [{"items": [{"price": "TEAM", "quantity": -1}]}]}, "greater than or equal to 0",
     "phases[0][items][0][quantity]"),
])
def test_bad_updates_are_refused_and_write_nothing(client, emulator: Emulator, plans, params, message,
                                                   param) -> None:
    sub = _sub(client, plans["team"].id)
    sched = client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    ids = {"TEAM": plans["team"].id, "BASIC": plans["basic"].id}
    params = json.loads(json.dumps(params).replace('"TEAM"', json.dumps(ids["TEAM"]))
                        .replace('"BASIC"', json.dumps(ids["BASIC"])))
    before, events = json.dumps(emulator.store.objects[sched.id], sort_keys=True), mark(emulator)
    with pytest.raises(stripe.StripeError) as err:
        client.v1.subscription_schedules.update(sched.id, params=params)
    assert message in str(err.value.user_message) and err.value.error.param == param
    assert json.dumps(emulator.store.objects[sched.id], sort_keys=True) == before and mark(emulator) == events


def test_bad_creates_are_refused(client, emulator: Emulator, plans) -> None:
    sub = _sub(client, plans["team"].id)
    count = len(emulator.store.all("subscription_schedule"))
    cases = [
        ({"from_subscription": sub.id, "phases": [{"items": [{"price": plans["basic"].id}]}]},
         "cannot set `phases` if `from_subscription` is set"),
        ({"from_subscription": "sub_nope"}, "No such subscription"),
        ({"customer": sub.customer, "phases": [{"items": [{"price": plans["basic"].id}]}]},
         "Missing required param: start_date"),
        ({"customer": sub.customer, "start_date": T0 - DAY, "phases": [{"items": [{"price": plans["basic"].id}]}]},
         "backdating"),
        ({"customer": sub.customer, "start_date": "now"}, "Missing required param: phases"),
        ({"customer": sub.customer, "start_date": "now", "phases": [{"items": [
            {"price": plans["basic"].id}, {"price": price(client, 500, interval="year").id}]}]},
         "mismatched intervals"),
    ]
    for params, message in cases:
        with pytest.raises(stripe.StripeError, match=message):
            client.v1.subscription_schedules.create(params=params)
    assert len(emulator.store.all("subscription_schedule")) == count
    client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    with pytest.raises(stripe.InvalidRequestError, match="already attached to a schedule"):
        client.v1.subscription_schedules.create(params={"from_subscription": sub.id})
    with pytest.raises(stripe.InvalidRequestError, match="No such subscription schedule"):
        client.v1.subscription_schedules.retrieve("sub_sched_nope")


@pytest.mark.skipif(FIXTURE_FILE is None, reason="fixtures3.json not available")
def test_schedules_and_their_events_have_stripe_shape(client, emulator: Emulator, clock, plans) -> None:
    sub = _sub(client, plans["team"].id)
    sched = _downgrade(client, client.v1.subscription_schedules.create(params={"from_subscription": sub.id}),
                       plans["basic"].id)
    client.v1.subscription_schedules.create(params={
        "customer": sub.customer, "start_date": T0 + DAY,
        "phases": [{"items": [{"price": plans["pro"].id}], "metadata": {"k": "v"}}]})
    advance(emulator, clock, days=70)
    assert client.v1.subscription_schedules.retrieve(sched.id).status == "released"
    fixtures = json.loads(FIXTURE_FILE.read_text())["resources"]
    objects = [(oid, o) for oid, o in emulator.store.objects.items()
               if o["object"] == "subscription_schedule"
               or (o["object"] == "event" and o["type"].startswith("subscription_schedule."))]
    assert len(objects) >= 6
    assert _check(fixtures, objects).errors == []
