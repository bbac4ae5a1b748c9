"""``change(..., proration="at_period_end")``: a Stripe subscription schedule defers the change to the renewal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, signals
from billingos.analytics.models import BillingLedgerEntry
from billingos.errors import ConflictError, InvalidInputError, StripeUnavailableError
from billingos.subscriptions import BillingSubscription
from billingos.subscriptions.models import BillingSubscriptionSchedule

FEB_15 = datetime(2026, 2, 15, 12, tzinfo=UTC)


def _counts(billing: Billing) -> tuple[int, ...]:
    with billing.session_factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0
                     for m in (BillingSubscription, BillingLedgerEntry, BillingSubscriptionSchedule))


def _remote(billing: Billing, sub_id: str) -> Any:
    return billing.stripe.v1.subscriptions.retrieve(sub_id, params={"expand": ["latest_invoice"]})


def test_downgrade_at_period_end(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    assert sub.current_period_end == FEB_15
    kit.advance(days=10)
    preview = billing.subscriptions.preview_change(sub, price="basic_monthly", proration="at_period_end")
    assert preview.amount_due_now == 0 and preview.effective_at == FEB_15
    assert [(ln.price, ln.amount, ln.proration) for ln in preview.lines] == [(plans["basic_monthly"], 1000, False)]
    assert preview.total == 1000
    invoices_before = len(billing.invoices.list("org_card"))
    updated: list[Any] = []

    def on_updated(sender: Any, subscription: Any, changed: set[str], **kw: Any) -> None:
        updated.append((subscription, changed))

    signals.subscription_updated.connect(on_updated)
    try:
        changed = billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end")
        # nothing charged now, still on team until the period end
        assert changed.price == "team_monthly" and changed.schedule is not None
        change = changed.scheduled_change
        assert change is not None and change.schedule == changed.schedule
        assert (change.lookup_key, change.price, change.quantity) == ("basic_monthly", plans["basic_monthly"], 1)
        assert change.effective_at == FEB_15
        assert updated and "scheduled_change" in updated[-1][1]
        assert len(billing.invoices.list("org_card")) == invoices_before
        assert not billing.stripe.v1.invoice_items.list(params={"customer": sub.customer}).data
        # a double click is one schedule change; the local copy survives the webhooks
        again = billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end")
        assert again.schedule == changed.schedule
        kit.drain()
        assert billing.subscriptions.get(sub.id).scheduled_change == change
        kit.advance(days=20)
        assert billing.subscriptions.get(sub.id).price == "team_monthly"
        updated.clear()
        kit.advance(days=2)                                # past Feb 15
    finally:
        signals.subscription_updated.disconnect(on_updated)
    after = billing.subscriptions.get(sub.id)
    assert after.price == "basic_monthly" and after.scheduled_change is None and after.status == "active"
    assert after.current_period_start == FEB_15
    renewal = billing.invoices.get(after.latest_invoice, owner_id="org_card")
    assert renewal.billing_reason == "subscription_cycle" and renewal.total == 1000 and renewal.status == "paid"
    assert any("items" in changed for _, changed in updated)
    remote = _remote(billing, sub.id)
    assert remote["items"].data[0].price.id == plans["basic_monthly"] and remote.latest_invoice.total == 1000


def test_cancel_a_scheduled_change(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    scheduled = billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end")
    assert scheduled.scheduled_change is not None
    kept = billing.subscriptions.cancel_scheduled_change(scheduled)
    assert kept.scheduled_change is None and kept.schedule is None and kept.price == "team_monthly"
    released = billing.stripe.v1.subscription_schedules.retrieve(str(scheduled.schedule))
    assert released.status == "released" and released.released_subscription == sub.id
    with pytest.raises(ConflictError, match="no scheduled change"):
        billing.subscriptions.cancel_scheduled_change(sub)
    kit.advance(days=32)
    renewed = billing.subscriptions.get(sub.id)
    assert renewed.price == "team_monthly"
    assert billing.invoices.get(renewed.latest_invoice, owner_id="org_card").total == 9000
    # a new scheduled change after the cancelled one makes a new schedule
    again = billing.subscriptions.change(sub, price="pro_monthly", proration="at_period_end")
    assert again.schedule not in (None, scheduled.schedule)
    assert again.scheduled_change is not None and again.scheduled_change.lookup_key == "pro_monthly"


def test_rescheduling_replaces_the_pending_change(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end")
    second = billing.subscriptions.change(sub, price="pro_monthly", quantity=2, proration="at_period_end")
    assert second.scheduled_change is not None
    assert (second.scheduled_change.lookup_key, second.scheduled_change.quantity) == ("pro_monthly", 2)
    third = billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end")
    assert third.scheduled_change is not None and third.scheduled_change.lookup_key == "basic_monthly"
    kit.advance(days=32)
    assert billing.subscriptions.get(sub.id).price == "basic_monthly"


def test_an_immediate_change_or_cancel_replaces_a_scheduled_one(billing: Billing, plans: Any, card_customer: Any,
                                                                kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end")
    now = billing.subscriptions.change(sub, quantity=3, proration="none")
    assert now.scheduled_change is None and now.schedule is None
    kit.advance(days=32)
    after = billing.subscriptions.get(sub.id)
    assert (after.price, after.items[0].quantity) == ("team_monthly", 3)
    billing.subscriptions.change(after, price="basic_monthly", proration="at_period_end")
    canceling = billing.subscriptions.cancel(after)
    assert canceling.cancel_at_period_end and canceling.scheduled_change is None
    with pytest.raises(ConflictError, match="scheduled to cancel"):
        billing.subscriptions.change(canceling, price="pro_monthly", proration="at_period_end")


def test_bad_input_raises_typed_errors_and_writes_nothing(billing: Billing, plans: Any, card_customer: Any,
                                                          kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    kit.drain()
    before = _counts(billing)
    schedules = len(billing.stripe.v1.subscription_schedules.list().data)
    with pytest.raises(InvalidInputError, match="Unknown price"):
        billing.subscriptions.change(sub, price="platinum_monthly", proration="at_period_end")
    with pytest.raises(InvalidInputError, match="Unknown price"):
        billing.subscriptions.change(sub, price="price_doesnotexist", proration="at_period_end")
    with pytest.raises(InvalidInputError, match="proration_date"):
        billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end", proration_date=FEB_15)
    with pytest.raises(InvalidInputError, match="proration must be one of"):
        billing.subscriptions.change(sub, price="basic_monthly", proration="later")  # type: ignore[arg-type]
    billing.emulator.faults.down = True
    with pytest.raises(StripeUnavailableError):
        billing.subscriptions.change(sub, price="basic_monthly", proration="at_period_end")
    billing.emulator.faults.down = False
    assert _counts(billing) == before and len(billing.stripe.v1.subscription_schedules.list().data) == schedules
    ended = billing.subscriptions.cancel(sub, at_period_end=False)
    kit.drain()
    before = _counts(billing)
    with pytest.raises(ConflictError, match="has ended"):
        billing.subscriptions.change(ended, price="basic_monthly", proration="at_period_end")
    with pytest.raises(ConflictError, match="has ended"):
        billing.subscriptions.preview_change(ended, price="basic_monthly", proration="at_period_end")
    assert _counts(billing) == before and len(billing.stripe.v1.subscription_schedules.list().data) == schedules


def test_webhooks_alone_keep_the_schedule_mirror(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    """A schedule made outside billingos (e.g. the Dashboard) shows up through subscription_schedule.* events."""
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    sc = billing.stripe.v1
    sched = sc.subscription_schedules.create(params={"from_subscription": sub.id})
    cur = sched.phases[0]
    sc.subscription_schedules.update(sched.id, params={"phases": [
        {"items": [{"price": plans["team_monthly"]}], "start_date": cur.start_date, "end_date": cur.end_date},
        {"items": [{"price": plans["pro_monthly"], "quantity": 4}], "proration_behavior": "none"}]})
    kit.drain()
    local = billing.subscriptions.get(sub.id)
    assert local.schedule == sched.id and local.scheduled_change is not None
    assert (local.scheduled_change.lookup_key, local.scheduled_change.quantity) == ("pro_monthly", 4)
    kit.advance(days=62)
    done = billing.subscriptions.get(sub.id)
    assert done.schedule is None and done.price == "pro_monthly" and done.items[0].quantity == 4
    with billing.session_factory() as s:
        row = s.scalars(select(BillingSubscriptionSchedule).where(
            BillingSubscriptionSchedule.stripe_id == sched.id)).one()
        assert (row.status, row.subscription_stripe_id) == ("released", sub.id)
