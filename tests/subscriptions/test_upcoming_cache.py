"""``subscriptions.upcoming()`` keeps Stripe's preview per subscription and customer version: a page view
asks Stripe once per change, and every change that moves the next invoice (a plan change, a quantity, a
coupon, a balance adjustment; made here or by another process) makes the next read ask again.

The oracle is Stripe's own preview, asked directly through the SDK (no billingos code)."""

from __future__ import annotations

from typing import Any

from billingos import Billing


def _stripe_says(billing: Billing, sub_id: str) -> tuple[int, int]:
    """(total, amount_due) of the next invoice, straight from Stripe."""
    inv = billing.stripe.v1.invoices.create_preview(params={"subscription": sub_id})
    return inv.total, inv.amount_due


def _upcoming(billing: Billing, owner: str) -> tuple[tuple[int, int], int]:
    """(total, amount_due) billingos shows, and how many Stripe requests it made for it."""
    log = billing.emulator.request_log
    before = len(log)
    preview = billing.subscriptions.upcoming(owner)
    assert preview is not None
    return (preview.total, preview.amount_due), len(log) - before


def test_the_preview_is_cached_until_the_subscription_or_customer_changes(billing: Billing, plans: Any,
                                                                          card_customer: Any, kit: Any) -> None:
    owner = "org_card"
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    first, asked = _upcoming(billing, owner)
    assert first == _stripe_says(billing, sub.id) == (3000, 3000) and asked == 1
    for _ in range(3):                                        # page views: no Stripe request
        assert _upcoming(billing, owner) == (first, 0)

    billing.subscriptions.change(sub, price="team_monthly", proration="none")       # a plan change
    changed, asked = _upcoming(billing, owner)
    assert changed == _stripe_says(billing, sub.id) == (9000, 9000) and asked == 1
    assert _upcoming(billing, owner) == (changed, 0)

    billing.subscriptions.change(sub, quantity=3, proration="none")                 # a quantity change
    tripled, asked = _upcoming(billing, owner)
    assert tripled == _stripe_says(billing, sub.id) == (27000, 27000) and asked == 1

    coupon = billing.stripe.v1.coupons.create(params={"percent_off": 50, "duration": "forever"})
    billing.subscriptions.apply_coupon(sub, coupon.id)                               # a coupon
    halved, asked = _upcoming(billing, owner)
    assert halved == _stripe_says(billing, sub.id) == (13500, 13500) and asked == 1

    billing.stripe.v1.customers.update(card_customer.id, params={"balance": -500})  # a credit, then its webhook
    kit.drain()
    assert billing.customers.get(owner_id=owner).balance == -500
    credited, asked = _upcoming(billing, owner)
    assert credited == _stripe_says(billing, sub.id) == (13500, 13000) and asked == 1
    assert _upcoming(billing, owner) == (credited, 0)


def test_a_change_synced_by_another_process_is_seen(billing: Billing, plans: Any, card_customer: Any) -> None:
    """Two processes on one database: each has its own cache, keyed on versions both read from the rows."""
    other = Billing(engine=billing.engine, emulator=billing.emulator, clock=billing.clock)
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    assert _upcoming(billing, "org_card") == ((1000, 1000), 1)
    assert _upcoming(other, "org_card") == ((1000, 1000), 1)
    other.subscriptions.change(sub, price="pro_monthly", proration="none")
    assert _upcoming(billing, "org_card") == ((3000, 3000), 1)
    assert _upcoming(billing, "org_card") == ((3000, 3000), 0)


def test_entries_expire_with_time_and_ended_plans_preview_nothing(billing: Billing, plans: Any,
                                                                   card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    cache = billing.subscriptions.upcoming_cache
    assert _upcoming(billing, "org_card")[1] == 1 and len(cache) == 1
    kit.advance(seconds=cache.ttl + 60)                       # past the TTL, before the renewal
    assert _upcoming(billing, "org_card") == ((3000, 3000), 1)
    billing.subscriptions.cancel(sub, at_period_end=True)
    assert billing.subscriptions.upcoming("org_card") is None


def test_metered_subscriptions_are_never_cached(billing: Billing, card_customer: Any) -> None:
    sc = billing.stripe.v1
    meter = sc.billing.meters.create(params={"display_name": "Calls", "event_name": "api_calls",
                                             "default_aggregation": {"formula": "sum"}})
    product = sc.products.create(params={"name": "API"})
    sc.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 2, "lookup_key": "calls",
                             "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id}})
    billing.subscriptions.create(card_customer, price="calls")
    assert _upcoming(billing, "org_card")[1] == 1
    assert _upcoming(billing, "org_card")[1] == 1
    assert len(billing.subscriptions.upcoming_cache) == 0
