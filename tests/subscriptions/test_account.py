"""``subscriptions.account(owner)``, the portal overview's two-statement read, says exactly what the separate
service reads say (``customers.get``, ``subscriptions.list``, ``payment_methods.list``, ``catalog.products``,
``subscriptions.upcoming``: ORM code that shares nothing with it), in every state a customer can be in."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from billingos import Billing
from billingos.errors import InvalidInputError, NotFoundError
from billingos.subscriptions.account import Account

ENDED = ("canceled", "incomplete_expired")


def oracle(billing: Billing, owner: str) -> Account:
    """The overview as the separate services read it."""
    try:
        customer = billing.customers.get(owner_id=owner)
    except NotFoundError:
        return Account(None, [], None, None, None, None)
    subs = billing.subscriptions.list(owner)
    live = [s for s in subs if s.status not in ENDED]
    current = (live or subs)[-1] if subs else None
    names = {p.id: p.name for p in billing.catalog.products(active=None)}
    item = next((i for i in current.items if i.usage_type != "metered"), None) if current else None
    card = next((c for c in billing.payment_methods.list(owner) if c.default), None)
    upcoming = billing.subscriptions.upcoming(owner) if current and current.status not in ENDED else None
    return Account(customer, subs, current, names.get(item.product or "") if item else None, card, upcoming)


def synced_card(billing: Billing, customer: Any) -> None:
    """The fixture's card attached in Stripe, synced locally (as its webhook would)."""
    billing.payment_methods.sync(billing.stripe.v1.payment_methods.retrieve(customer.default_payment_method))


def same(billing: Billing, owner: str) -> Account:
    got = billing.subscriptions.account(owner)
    assert got == oracle(billing, owner)
    return got


def test_no_customer_then_a_customer_without_plan_or_card(billing: Billing, plans: Any) -> None:
    assert same(billing, "org_none") == Account(None, [], None, None, None, None)
    customer = billing.customers.create(owner_id="org_bare", email="bare@b.co")
    got = same(billing, "org_bare")
    assert got.customer is not None and got.customer.id == customer.id
    assert (got.subscriptions, got.subscription, got.plan, got.card, got.upcoming) == ([], None, None, None, None)


def test_an_active_plan_with_its_card_name_and_next_invoice(billing: Billing, plans: Any,
                                                            card_customer: Any) -> None:
    synced_card(billing, card_customer)
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    got = same(billing, "org_card")
    assert got.subscription is not None and got.subscription.id == sub.id and got.plan == "SaaS"
    assert got.card is not None and got.card.default and (got.card.brand, got.card.last4) == ("visa", "4242")
    assert got.upcoming is not None and (got.upcoming.amount_due, got.upcoming.currency) == (3000, "usd")
    asked = len(billing.emulator.request_log)
    assert billing.subscriptions.account("org_card").upcoming == got.upcoming       # cached: Stripe not asked
    assert len(billing.emulator.request_log) == asked


def test_a_plan_change_shows_at_once_and_a_scheduled_one_is_named(billing: Billing, plans: Any,
                                                                   card_customer: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    assert same(billing, "org_card").upcoming.amount_due == 1000                    # type: ignore[union-attr]
    billing.subscriptions.change(sub, price="team_monthly", proration="none")
    assert same(billing, "org_card").upcoming.amount_due == 9000                    # type: ignore[union-attr]
    billing.subscriptions.change(sub, price="pro_monthly", proration="at_period_end")
    got = same(billing, "org_card")
    assert got.subscription is not None and got.subscription.scheduled_change is not None


def test_cancelling_then_a_new_plan_and_an_ended_one(billing: Billing, plans: Any, card_customer: Any) -> None:
    first = billing.subscriptions.create(card_customer, price="pro_monthly")
    billing.subscriptions.cancel(first, at_period_end=True)
    got = same(billing, "org_card")
    assert got.subscription is not None and got.subscription.cancel_at_period_end and got.upcoming is None
    billing.subscriptions.cancel(first, at_period_end=False)
    got = same(billing, "org_card")
    assert got.subscription is not None and got.subscription.status == "canceled" and got.upcoming is None
    second = billing.subscriptions.create(card_customer, price="team_monthly")
    got = same(billing, "org_card")
    assert [s.id for s in got.subscriptions] == [first.id, second.id]
    assert got.subscription is not None and got.subscription.id == second.id


def test_a_trial_previews_the_invoice_at_its_end(billing: Billing, plans: Any) -> None:
    customer = billing.customers.create(owner_id="org_trial", email="t@b.co")
    sub = billing.subscriptions.create(customer, price="pro_monthly", trial_days=14)
    got = same(billing, "org_trial")
    assert got.subscription is not None and got.subscription.status == "trialing" and got.card is None
    assert got.upcoming is not None and got.upcoming.effective_at == sub.trial_end


def test_a_metered_plan_is_previewed_fresh_each_time(billing: Billing, plans: Any, card_customer: Any) -> None:
    sc = billing.stripe.v1
    meter = sc.billing.meters.create(params={"display_name": "Calls", "event_name": "api_calls",
                                             "default_aggregation": {"formula": "sum"}})
    metered = sc.prices.create(params={"product": sc.products.create(params={"name": "Calls"}).id,
                                       "currency": "usd", "unit_amount": 2, "recurring": {
                                           "interval": "month", "usage_type": "metered", "meter": meter.id}})
    billing.subscriptions.create(card_customer, items=[{"price": plans["pro_monthly"]}, {"price": metered.id}])
    got = same(billing, "org_card")
    assert got.plan == "SaaS" and got.subscription is not None and len(got.subscription.items) == 2
    asked = len(billing.emulator.request_log)
    billing.subscriptions.account("org_card")
    assert len(billing.emulator.request_log) == asked + 1            # never cached: usage moves it


def test_a_detached_default_card_and_another_owners_data(billing: Billing, plans: Any,
                                                         card_customer: Any, kit: Any) -> None:
    synced_card(billing, card_customer)
    other = billing.customers.create(owner_id="org_other", email="o@b.co")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_mastercard", params={"customer": other.id})
    billing.customers.update("org_other", default_payment_method=pm.id)
    billing.payment_methods.sync(pm)
    billing.subscriptions.create(other, price="team_monthly")
    mine = same(billing, "org_card")
    assert mine.subscriptions == [] and mine.card is not None and mine.card.brand == "visa"
    billing.payment_methods.detach("org_card", mine.card.id)
    kit.drain()
    assert same(billing, "org_card").card is None
    assert same(billing, "org_other").card.brand == "mastercard"                   # type: ignore[union-attr]


def test_a_deleted_customer_reads_as_none(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    billing.subscriptions.create(card_customer, price="pro_monthly")
    billing.stripe.v1.customers.delete(card_customer.id)
    kit.drain()
    assert same(billing, "org_card") == Account(None, [], None, None, None, None)


def test_two_statements_whatever_the_history(billing: Billing, plans: Any, card_customer: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    for price in ("pro_monthly", "team_monthly", "basic_monthly"):
        sub = billing.subscriptions.change(sub, price=price, proration="none")
    billing.subscriptions.account("org_card")                        # warm the preview cache
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])                    # noqa: E731
    event.listen(billing.engine, "before_cursor_execute", listener)
    try:
        billing.subscriptions.account("org_card")
    finally:
        event.remove(billing.engine, "before_cursor_execute", listener)
    assert len(seen) == 2, seen


@pytest.mark.parametrize("bad", [None, "", " org", "a" * 256, "org\x00x", 7, ["org_card"]])
def test_bad_owner_ids_are_refused(billing: Billing, bad: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        billing.subscriptions.account(bad)
    assert err.value.param == "owner_id"
