"""Time in the billing engine: renewals, trials, upcoming invoices, dunning, expiry and scheduled
cancellation, on test clocks and on the emulator's own clock (``advance_to``)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from billingos.emulator import Emulator, EmulatorSettings
from billingos.emulator.shapes import shape

from .billing_kit import DAY, T0, advance, attach_card, customer, event_types, events_of, mark, metered_price, price


def _ts(y: int, m: int, d: int, h: int = 12) -> int:
    return int(datetime(y, m, d, h, tzinfo=UTC).timestamp())


@pytest.fixture
def test_clock(client):
    return client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0})


def _advance_clock(client, clock_id: str, to: int) -> None:
    client.v1.test_helpers.test_clocks.advance(clock_id, params={"frozen_time": to})


def test_renewal_on_a_test_clock(client, emulator: Emulator, test_clock) -> None:
    cust = customer(client, test_clock=test_clock.id)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}]})
    start = mark(emulator)
    _advance_clock(client, test_clock.id, T0 + 31 * DAY + 3600)
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (_ts(2026, 2, 15), _ts(2026, 3, 15))
    inv = sub.latest_invoice
    assert inv.billing_reason == "subscription_cycle" and inv.status == "paid" and inv.total == 2000
    assert inv.created == _ts(2026, 2, 15)
    assert inv.lines.data[0].period.start == _ts(2026, 2, 15)
    types = event_types(emulator, start, prefix=("invoice.", "customer.subscription", "charge", "payment_intent"))
    assert types == ["invoice.upcoming", "customer.subscription.updated", "invoice.created", "invoice.finalized",
                     "payment_intent.created", "charge.succeeded", "payment_intent.succeeded", "invoice.paid",
                     "invoice.payment_succeeded"]
    upcoming = events_of(emulator, "invoice.upcoming", start)[0]
    assert upcoming["created"] == _ts(2026, 2, 12)          # 3 days before the renewal
    assert upcoming["data"]["object"]["total"] == 2000
    renewed = events_of(emulator, "invoice.created", start)[0]
    assert renewed["created"] == _ts(2026, 2, 15)          # stamped when it happened, not at the end


def test_month_end_anchor_clamps_and_recovers(client, emulator: Emulator, clock) -> None:
    clock.set(datetime(2026, 1, 31, 12, tzinfo=UTC))
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client).id}]})
    assert sub["items"].data[0].current_period_end == _ts(2026, 2, 28)
    emulator.advance_to(_ts(2026, 3, 31) + 60)
    item = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (_ts(2026, 3, 31), _ts(2026, 4, 30))
    assert len(client.v1.invoices.list(params={"subscription": sub.id}).data) == 3


def test_advance_to_processes_in_order_and_leaves_test_clock_customers_alone(client, emulator: Emulator,
                                                                             clock, test_clock) -> None:
    mine = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                  "items": [{"price": price(client).id}]})
    other = client.v1.subscriptions.create(params={"customer": customer(client, test_clock=test_clock.id).id,
                                                   "items": [{"price": price(client).id}]})
    advance(emulator, clock, days=65)
    assert client.v1.subscriptions.retrieve(mine.id)["items"].data[0].current_period_start == _ts(2026, 3, 15)
    assert client.v1.subscriptions.retrieve(other.id)["items"].data[0].current_period_start == T0
    created = [e["created"] for e in events_of(emulator, "invoice.created")]
    assert created == sorted(created) and created[2:] == [_ts(2026, 2, 15), _ts(2026, 3, 15)]


def test_trial_will_end_once_and_trial_end_charges(client, emulator: Emulator, clock) -> None:
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}],
                                                 "trial_period_days": 14})
    advance(emulator, clock, days=11, seconds=1)
    warned = events_of(emulator, "customer.subscription.trial_will_end")
    assert [e["created"] for e in warned] == [T0 + 11 * DAY]
    advance(emulator, clock, days=2)
    assert len(events_of(emulator, "customer.subscription.trial_will_end")) == 1
    assert client.v1.subscriptions.retrieve(sub.id).status == "trialing"
    advance(emulator, clock, days=1)
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active"
    assert sub["items"].data[0].current_period_start == T0 + 14 * DAY
    assert sub["items"].data[0].current_period_end == _ts(2026, 2, 28)  # Jan 29 + 1 month, clamped
    assert sub.latest_invoice.status == "paid" and sub.latest_invoice.total == 2000


@pytest.mark.parametrize("behavior,status", [("create_invoice", "past_due"), ("cancel", "canceled"),
                                             ("pause", "paused")])
def test_trial_end_without_a_payment_method(client, emulator: Emulator, clock, behavior, status) -> None:
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client, card=None).id, "items": [{"price": price(client).id}],
        "trial_period_days": 7, "trial_settings": {"end_behavior": {"missing_payment_method": behavior}}})
    advance(emulator, clock, days=7)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == status
    invoices = client.v1.invoices.list(params={"subscription": sub.id}).data
    if behavior == "create_invoice":
        assert invoices[0].status == "open" and invoices[0].next_payment_attempt == T0 + 10 * DAY
        pi = client.v1.payment_intents.retrieve(emulator.store.objects[invoices[0].id]["payment_intent"])
        assert pi.status == "requires_payment_method" and client.v1.charges.list().data == []
    else:
        assert len(invoices) == 1          # only the trial's $0 invoice
    if behavior == "pause":
        assert events_of(emulator, "customer.subscription.paused")


def _failing_sub(client, emulator: Emulator):
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}]})
    bad = attach_card(client, cust.id, "pm_card_chargeCustomerFail")
    return cust, sub, bad


def test_dunning_retries_on_schedule_then_cancels(client, emulator: Emulator, clock) -> None:
    _, sub, _ = _failing_sub(client, emulator)
    renewal = _ts(2026, 2, 15)
    emulator.advance_to(renewal)
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "past_due"
    inv = sub.latest_invoice
    assert inv.status == "open" and inv.attempt_count == 1 and inv.next_payment_attempt == renewal + 3 * DAY
    emulator.advance_to(renewal + 3 * DAY)
    assert client.v1.invoices.retrieve(inv.id).next_payment_attempt == renewal + 5 * DAY
    emulator.advance_to(renewal + 5 * DAY)
    assert client.v1.invoices.retrieve(inv.id).next_payment_attempt == renewal + 10 * DAY
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    emulator.advance_to(renewal + 10 * DAY)
    inv = client.v1.invoices.retrieve(inv.id)
    assert inv.attempt_count == 4 and inv.status == "uncollectible" and inv.next_payment_attempt is None
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.cancellation_details.reason == "payment_failed"
    failures = [e["created"] for e in events_of(emulator, "invoice.payment_failed")]
    assert failures == [renewal, renewal + 3 * DAY, renewal + 5 * DAY, renewal + 10 * DAY]
    assert events_of(emulator, "customer.subscription.deleted")
    assert events_of(emulator, "invoice.marked_uncollectible")


def test_configurable_schedule_and_unpaid_then_recovery(client, emulator: Emulator, clock) -> None:
    emulator.settings = EmulatorSettings(retry_schedule_days=(1, 2), after_final_failure="unpaid")
    cust, sub, _ = _failing_sub(client, emulator)
    renewal = _ts(2026, 2, 15)
    emulator.advance_to(renewal + 2 * DAY)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "unpaid"
    inv = client.v1.invoices.retrieve(sub.latest_invoice)
    assert inv.status == "open" and inv.attempt_count == 3
    good = attach_card(client, cust.id, "pm_card_visa")
    paid = client.v1.invoices.pay(inv.id, params={"payment_method": good})
    assert paid.status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_paying_during_dunning_returns_to_active(client, emulator: Emulator, clock) -> None:
    cust, sub, _ = _failing_sub(client, emulator)
    emulator.advance_to(_ts(2026, 2, 16))
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    attach_card(client, cust.id, "pm_card_visa")
    emulator.advance_to(_ts(2026, 2, 18, 13))     # the day-3 retry uses the new default card
    sub = client.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    assert sub.status == "active" and sub.latest_invoice.status == "paid"
    assert sub.latest_invoice.attempt_count == 2


def test_no_retry_charge_without_a_payment_method(client, emulator: Emulator, clock) -> None:
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}]})
    client.v1.customers.update(cust.id, params={"invoice_settings": {"default_payment_method": ""}})
    emulator.advance_to(_ts(2026, 2, 15) + 10 * DAY)
    assert len(client.v1.charges.list().data) == 1        # only the first, successful charge
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"


def test_incomplete_expires_after_23_hours(client, emulator: Emulator, clock) -> None:
    cust = customer(client, card="pm_card_chargeCustomerFail")
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}]})
    advance(emulator, clock, hours=22)
    assert client.v1.subscriptions.retrieve(sub.id).status == "incomplete"
    advance(emulator, clock, hours=1)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "incomplete_expired" and sub.ended_at == T0 + 23 * 3600
    assert client.v1.invoices.retrieve(sub.latest_invoice).status == "void"
    assert events_of(emulator, "invoice.voided")


def test_cancel_at_period_end_takes_effect_at_the_end(client, emulator: Emulator, clock) -> None:
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client).id}]})
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    advance(emulator, clock, days=30)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert events_of(emulator, "invoice.upcoming") == []      # no upcoming invoice for a cancelling sub
    advance(emulator, clock, days=2)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == _ts(2026, 2, 15)
    assert len(client.v1.invoices.list(params={"subscription": sub.id}).data) == 1


def test_cancel_at_mid_period(client, emulator: Emulator, clock) -> None:
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client).id}]})
    client.v1.subscriptions.update(sub.id, params={"cancel_at": T0 + 10 * DAY})
    advance(emulator, clock, days=20)
    sub = client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "canceled" and sub.ended_at == T0 + 10 * DAY


def test_metered_usage_is_rated_at_renewal_from_the_meter(client, emulator: Emulator, clock) -> None:
    base, calls = price(client, 5000, name="Base"), metered_price(client, unit_amount=2)
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id,
                                                 "items": [{"price": base.id}, {"price": calls.id}]})
    for value, at in (("1000", T0), ("234", T0 + 60)):
        client.v1.billing.meter_events.create(params={
            "event_name": "API_calls", "timestamp": at,
            "payload": {"stripe_customer_id": cust.id, "value": value}})
    emulator.advance_to(_ts(2026, 2, 15))
    inv = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert [ln.amount for ln in inv.lines.data] == [5000, 2468]
    metered = inv.lines.data[1]
    assert (metered.period.start, metered.period.end, metered.quantity) == (T0, _ts(2026, 2, 15), 1234)


def test_pause_collection_keeps_renewals_as_drafts_until_resumes_at(client, emulator: Emulator, clock) -> None:
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                 "items": [{"price": price(client).id}]})
    client.v1.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "keep_as_draft",
                                                                         "resumes_at": _ts(2026, 3, 1)}})
    emulator.advance_to(_ts(2026, 2, 15))
    draft = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert draft.status == "draft" and draft.auto_advance is False
    emulator.advance_to(_ts(2026, 3, 2))
    assert client.v1.subscriptions.retrieve(sub.id).pause_collection is None
    emulator.advance_to(_ts(2026, 3, 15))
    assert client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice).status == "paid"


def test_send_invoice_past_due_after_due_date(client, emulator: Emulator, clock) -> None:
    sub = client.v1.subscriptions.create(params={
        "customer": customer(client, card=None).id, "items": [{"price": price(client).id}],
        "collection_method": "send_invoice", "days_until_due": 5})
    advance(emulator, clock, days=4)
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"
    advance(emulator, clock, days=1)
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    client.v1.invoices.pay(client.v1.subscriptions.retrieve(sub.id).latest_invoice,
                           params={"paid_out_of_band": True})
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_the_last_event_of_every_invoice_and_subscription_shows_its_final_state(client, emulator: Emulator,
                                                                                clock) -> None:
    """Webhook consumers converge: nothing about an invoice or subscription changes without an event."""
    _, failing, _ = _failing_sub(client, emulator)
    other = customer(client, card=None)
    client.v1.subscriptions.create(params={"customer": other.id, "items": [{"price": price(client).id}],
                                           "trial_period_days": 5})
    paused = client.v1.subscriptions.create(params={"customer": customer(client).id,
                                                    "items": [{"price": price(client).id}]})
    client.v1.subscriptions.update(paused.id, params={"pause_collection": {"behavior": "keep_as_draft"}})
    once = client.v1.coupons.create(params={"percent_off": 10, "duration": "once"})
    client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": price(client).id}],
                                           "discounts": [{"coupon": once.id}]})
    emulator.advance_to(_ts(2026, 2, 20))
    client.v1.subscriptions.cancel(failing.id)
    emulator.advance_to(_ts(2026, 3, 20))
    last: dict[str, dict] = {}
    for event in emulator.store.all("event"):
        obj = event["data"]["object"]
        if obj.get("object") in ("invoice", "subscription"):
            last[obj["id"]] = obj
    for kind in ("invoice", "subscription"):
        for obj in emulator.store.all(kind):
            assert last[obj["id"]] == shape(copy.deepcopy(obj)), f"{obj['id']} changed without an event"


def _bill_usage(client, emulator: Emulator, clock, values: tuple[str, ...]) -> tuple[list, object]:
    """A $50 base plus 3¢ per API call, the meter events ``values`` three days in, then the renewal:
    the renewal invoice's metered lines, and the invoice."""
    from datetime import timedelta
    base, calls = price(client, 5000, name="Base"), metered_price(client, unit_amount=3)
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id,
                                                 "items": [{"price": base.id}, {"price": calls.id}]})
    clock.advance(timedelta(days=3))
    for value in values:
        client.v1.billing.meter_events.create(params={"event_name": "API_calls", "payload": {
            "stripe_customer_id": cust.id, "value": value}})
    emulator.advance_to(_ts(2026, 2, 15))
    inv = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    return [ln for ln in inv.lines.data if ln.pricing.price_details.price == calls.id], inv


def test_meter_events_are_billed_in_arrears_at_renewal(client, emulator: Emulator, clock) -> None:
    """End to end with the meters module's ``metered_quantity`` hook: usage of the last period."""
    metered, inv = _bill_usage(client, emulator, clock, ("100", "250"))
    assert [(ln.quantity, ln.amount) for ln in metered] == [(350, 1050)]
    assert inv.total == 6050 and inv.status == "paid"


def test_negative_cycle_usage_bills_a_quantity_of_zero(client, emulator: Emulator, clock) -> None:
    """Stripe: negative meter events correct usage, and "if the overall cycle usage is negative, Stripe
    reports the invoice line item usage quantity as 0" (docs.stripe.com, usage-based meters/configure)."""
    metered, inv = _bill_usage(client, emulator, clock, ("100", "-250"))
    assert [(ln.quantity, ln.amount) for ln in metered] == [(0, 0)]
    assert inv.total == 5000
