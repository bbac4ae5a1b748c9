"""End to end through the real SDK and the emulator's subscription engine and webhooks: subscribe,
upgrade, cancel at period end, and the emulator's active entitlements and summary events."""

from __future__ import annotations

from typing import Any

import pytest

from billingos import Billing, signals

from .conftest import Plans


@pytest.fixture
def kit(plans: Plans) -> Any:
    b = plans.billing
    if b.emulator.router.match("POST", "/v1/subscriptions") is None:
        pytest.skip("the emulator's subscription engine is not there yet")
    b.testing.connect()
    return b.testing


def _card_customer(b: Billing, owner: str) -> Any:
    c = b.customers.create(owner_id=owner, email=f"{owner}@example.com")
    pm = b.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
    return b.customers.update(owner, default_payment_method=pm.id)


def test_subscribe_upgrade_and_cancel_at_the_right_moment(plans: Plans, kit: Any) -> None:
    b = plans.billing
    seen: list[tuple[str, str]] = []
    signals.entitlement_granted.connect(lambda s, **kw: seen.append(("+", kw["feature"])), sender=b, weak=False)
    signals.entitlement_revoked.connect(lambda s, **kw: seen.append(("-", kw["feature"])), sender=b, weak=False)
    customer = _card_customer(b, "org_e")
    sub = b.subscriptions.create(customer, price="pro_monthly")
    assert sub.status == "active" and b.has_feature("org_e", "export") and not b.has_feature("org_e", "sso")
    assert b.check("org_e", "api_calls").limit == 1000
    sub = b.subscriptions.change(sub, price="team_monthly")
    assert b.has_feature("org_e", "sso") and b.check("org_e", "api_calls").limit is None   # at once
    kit.drain()
    sub = b.subscriptions.cancel(sub, at_period_end=True)
    end = sub.current_period_end
    assert end is not None and b.has_feature("org_e", "export")
    b.testing.advance(end - b.now() - _one_hour())
    assert b.has_feature("org_e", "export") and b.subscriptions.get(sub.id).status == "active"
    b.testing.advance(_one_hour() * 2)
    assert b.subscriptions.get(sub.id).status == "canceled"
    assert not b.has_feature("org_e", "export") and not b.has_feature("org_e", "sso")
    assert sorted(seen) == sorted([("+", "api_calls"), ("+", "export"), ("+", "sso"),
                                   ("-", "api_calls"), ("-", "export"), ("-", "sso")])
    active = b.stripe.v1.entitlements.active_entitlements.list(params={"customer": customer.id})
    assert active.data == []


def test_the_emulator_lists_active_entitlements_and_announces_changes(plans: Plans, kit: Any) -> None:
    b = plans.billing
    customer = _card_customer(b, "org_f")
    b.subscriptions.create(customer, price="pro_monthly")
    active = b.stripe.v1.entitlements.active_entitlements.list(params={"customer": customer.id})
    assert sorted(e.lookup_key for e in active.data) == ["api_calls", "export"]
    assert all(e.id.startswith("ent_test_") and e.object == "entitlements.active_entitlement" for e in active.data)
    events = b.stripe.v1.events.list(params={"type": "entitlements.active_entitlement_summary.updated"}).data
    assert events and events[0].data.object["customer"] == customer.id
    assert sorted(e["lookup_key"] for e in events[0].data.object["entitlements"]["data"]) == ["api_calls", "export"]
    # a feature attached to the product in Stripe reaches the owner through the summary webhook alone
    assert not b.has_feature("org_f", "sso")
    b.stripe.v1.products.features.create(plans.products["pro"], params={"entitlement_feature": plans.features["sso"]})
    kit.drain()
    assert b.has_feature("org_f", "sso")
    assert b.webhooks.events(status="processed") and any(
        e.type == "entitlements.active_entitlement_summary.updated" for e in b.webhooks.events(status="processed"))


def _one_hour() -> Any:
    from datetime import timedelta
    return timedelta(hours=1)
