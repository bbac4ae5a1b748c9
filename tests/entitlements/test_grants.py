"""Grants follow subscriptions: upgrades grant at once, cancellation and unpaid revoke at the right
moment, past_due keeps features for the grace period, overrides add and expire; signals fire once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, Check, InvalidInputError, signals
from billingos.entitlements.models import BillingEntitlement

from .conftest import Plans


@pytest.fixture
def events(billing: Billing) -> Iterator[list[tuple[str, str, str, str]]]:
    seen: list[tuple[str, str, str, str]] = []

    def granted(sender: Any, **kw: Any) -> None:
        seen.append(("granted", kw["owner_id"], kw["feature"], kw["source"]))

    def revoked(sender: Any, **kw: Any) -> None:
        seen.append(("revoked", kw["owner_id"], kw["feature"], kw["reason"]))

    signals.entitlement_granted.connect(granted, sender=billing)
    signals.entitlement_revoked.connect(revoked, sender=billing)
    yield seen
    signals.entitlement_granted.disconnect(granted, sender=billing)
    signals.entitlement_revoked.disconnect(revoked, sender=billing)


def _keys(billing: Billing, owner: str) -> set[str]:
    return {k for k in ("export", "sso", "api_calls") if billing.has_feature(owner, k)}


def test_active_subscription_grants_its_plans_stripe_features(plans: Plans, events: list[Any]) -> None:
    b = plans.billing
    sub = plans.subscription(plans.customer("org_a"), "pro")
    plans.sync(sub)
    assert _keys(b, "org_a") == {"export", "api_calls"}
    assert b.check("org_a", "export") == Check(True, None, None, None, None, "granted")
    quota = b.check("org_a", "api_calls", 10)
    assert (quota.allowed, quota.limit, quota.used, quota.remaining, quota.reason) == (True, 1000, 0, 1000, "granted")
    assert quota.resets_at == b.now() - timedelta(days=1) + timedelta(days=30)
    source = f"subscription:{sub['id']}"
    assert events == [("granted", "org_a", "api_calls", source), ("granted", "org_a", "export", source)]
    plans.sync(sub)                  # a duplicate sync (a replayed webhook) changes nothing and fires nothing
    assert len(events) == 2
    grants = b.entitlements.grants("org_a")
    assert [(g.feature, g.type, g.limit) for g in grants] == [("api_calls", "metered", 1000),
                                                              ("export", "boolean", None)]


def test_upgrade_grants_at_once_and_downgrade_revokes(plans: Plans, events: list[Any]) -> None:
    b = plans.billing
    sub = plans.subscription(plans.customer("org_a"), "basic")
    plans.sync(sub)
    assert _keys(b, "org_a") == {"api_calls"} and b.check("org_a", "api_calls").limit == 100
    events.clear()
    plans.sync(plans.subscription(sub["customer"], "team", sub_id=sub["id"]))
    assert _keys(b, "org_a") == {"export", "sso", "api_calls"}
    assert b.check("org_a", "api_calls", 10**9).limit is None and b.check("org_a", "api_calls", 10**9).allowed
    source = f"subscription:{sub['id']}"
    assert events == [("granted", "org_a", "export", source), ("granted", "org_a", "sso", source)]
    events.clear()
    plans.sync(plans.subscription(sub["customer"], "pro", sub_id=sub["id"]))
    assert _keys(b, "org_a") == {"export", "api_calls"}
    assert events == [("revoked", "org_a", "sso", "plan_changed")]
    assert b.check("org_a", "sso") == Check(False, None, None, None, None, "not_granted")


def test_cancel_at_period_end_keeps_features_until_then_and_not_a_second_longer(plans: Plans,
                                                                                events: list[Any]) -> None:
    b = plans.billing
    sub = plans.subscription(plans.customer("org_a"), "pro")
    plans.sync(sub)
    end = b.now() + timedelta(days=29)
    plans.sync(sub, cancel_at_period_end=True, cancel_at=int(end.timestamp()))
    assert b.has_feature("org_a", "export") and b.check("org_a", "export").allowed
    b.clock.set(end - timedelta(seconds=1))  # type: ignore[attr-defined]
    assert b.has_feature("org_a", "export")
    b.clock.set(end)  # type: ignore[attr-defined]
    assert not b.has_feature("org_a", "export") and b.check("org_a", "export").reason == "not_granted"
    events.clear()
    assert b.entitlements.expire() == 1       # the periodic job removes the rows and says so, once
    assert sorted(events) == [("revoked", "org_a", "api_calls", "subscription_ended"),
                              ("revoked", "org_a", "export", "subscription_ended")]
    assert b.entitlements.expire() == 0 and len(events) == 2
    plans.sync(sub, status="canceled", ended_at=int(end.timestamp()))   # the deletion webhook: no second signal
    assert len(events) == 2 and not b.has_feature("org_a", "export")


def test_immediate_cancel_and_unpaid_revoke_at_once(plans: Plans, events: list[Any]) -> None:
    b = plans.billing
    a = plans.subscription(plans.customer("org_a"), "pro")
    u = plans.subscription(plans.customer("org_u"), "pro")
    plans.sync(a)
    plans.sync(u)
    events.clear()
    plans.sync(a, status="canceled")
    plans.sync(u, status="unpaid")
    assert not _keys(b, "org_a") and not _keys(b, "org_u")
    assert sorted(events) == [("revoked", "org_a", "api_calls", "subscription_ended"),
                              ("revoked", "org_a", "export", "subscription_ended"),
                              ("revoked", "org_u", "api_calls", "unpaid"), ("revoked", "org_u", "export", "unpaid")]


def test_past_due_keeps_features_for_the_grace_period(plans: Plans, events: list[Any]) -> None:
    b = plans.billing
    b.entitlements.configure(grace_period=timedelta(days=3))
    sub = plans.subscription(plans.customer("org_a"), "pro")
    plans.sync(sub)
    plans.sync(sub, status="past_due")
    assert b.has_feature("org_a", "export") and b.check("org_a", "export").reason == "grace_period"
    b.clock.advance(days=2)  # type: ignore[attr-defined]
    plans.sync(sub, status="past_due")      # a later past_due sync does not restart the grace period
    b.clock.advance(days=1)  # type: ignore[attr-defined]
    assert not b.has_feature("org_a", "export")
    events.clear()
    assert b.entitlements.expire() == 1
    assert sorted(events) == [("revoked", "org_a", "api_calls", "grace_expired"),
                              ("revoked", "org_a", "export", "grace_expired")]
    plans.sync(sub, status="active")        # the retry succeeded: features are back at once
    assert _keys(b, "org_a") == {"export", "api_calls"} and b.check("org_a", "export").reason == "granted"


@pytest.mark.parametrize("status, granted", [("trialing", True), ("active", True), ("incomplete", False),
                                             ("incomplete_expired", False), ("paused", False), ("unpaid", False),
                                             ("canceled", False)])
def test_status_decides(plans: Plans, status: str, granted: bool) -> None:
    plans.sync(plans.subscription(plans.customer("org_a"), "pro", status=status))
    assert plans.billing.has_feature("org_a", "export") is granted


def test_two_products_add_up_and_a_second_subscription_keeps_the_feature(plans: Plans, events: list[Any]) -> None:
    b = plans.billing
    cus = plans.customer("org_a")
    first = plans.subscription(cus, ["pro", "basic"])
    plans.sync(first)
    assert b.check("org_a", "api_calls").limit == 1100
    second = plans.subscription(cus, "addon")        # the addon only has api_calls, default limit in feature metadata
    plans.sync(second)
    assert b.check("org_a", "api_calls").limit == 1150
    events.clear()
    plans.sync(first, status="canceled")
    assert b.has_feature("org_a", "api_calls") and b.check("org_a", "api_calls").limit == 50
    assert events == [("revoked", "org_a", "export", "subscription_ended")]


def test_overrides_add_expire_and_survive_plan_changes(plans: Plans, events: list[Any]) -> None:
    b = plans.billing
    sub = plans.subscription(plans.customer("org_a"), "basic")
    plans.sync(sub)
    events.clear()
    until = b.now() + timedelta(days=7)
    g = b.entitlements.grant("org_a", "export", expires_at=until, reason="sales trial")
    assert (g.source, g.expires_at, g.reason, g.type) == ("override", until, "sales trial", "boolean")
    b.entitlements.grant("org_a", "api_calls", limit=500)
    assert b.has_feature("org_a", "export") and b.check("org_a", "api_calls").limit == 600
    assert events == [("granted", "org_a", "export", "override")]
    plans.sync(plans.subscription(sub["customer"], "pro", sub_id=sub["id"]))
    assert b.check("org_a", "api_calls").limit == 1500 and len(events) == 1   # export was already granted
    plans.sync(sub, status="canceled")
    assert b.has_feature("org_a", "export") and b.check("org_a", "api_calls").limit == 500
    b.clock.set(until)  # type: ignore[attr-defined]
    assert not b.has_feature("org_a", "export")
    events.clear()
    b.entitlements.expire()
    assert events == [("revoked", "org_a", "export", "override_expired")]
    assert b.entitlements.revoke("org_a", "api_calls") is True and b.entitlements.revoke("org_a", "api_calls") is False
    assert events[-1] == ("revoked", "org_a", "api_calls", "override_revoked")
    assert not b.has_feature("org_a", "api_calls")


def test_override_without_a_customer_or_subscription(plans: Plans) -> None:
    b = plans.billing
    assert not b.has_feature("org_free", "sso")
    b.entitlements.grant("org_free", "sso")
    assert b.has_feature("org_free", "sso") and b.check("org_free", "sso").reason == "granted"


@pytest.mark.parametrize("args, kwargs, param", [
    (("org_a", "nope"), {}, "key"),
    (("org_a", ""), {}, "key"),
    ((" org_a", "export"), {}, "owner_id"),
    (("x" * 256, "export"), {}, "owner_id"),
    ((None, "export"), {}, "owner_id"),
    (("org_a", "export"), {"limit": 5}, "limit"),
    (("org_a", "api_calls"), {"limit": -1}, "limit"),
    (("org_a", "api_calls"), {"limit": 1.5}, "limit"),
    (("org_a", "api_calls"), {"limit": float("nan")}, "limit"),
    (("org_a", "api_calls"), {"limit": 10**13}, "limit"),
    (("org_a", "api_calls"), {"reset": "fortnight"}, "reset"),
    (("org_a", "api_calls"), {"rollover": "yes"}, "rollover"),
    (("org_a", "export"), {"expires_at": "tomorrow"}, "expires_at"),
    (("org_a", "export"), {"reason": "x" * 501}, "reason"),
])
def test_grant_bad_input_writes_nothing(plans: Plans, args: tuple[Any, ...], kwargs: dict[str, Any],
                                        param: str) -> None:
    b = plans.billing
    with pytest.raises(InvalidInputError) as err:
        b.entitlements.grant(*args, **kwargs)
    assert err.value.param == param
    with b.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BillingEntitlement)) == 0


def test_grant_in_the_past_and_revoke_bad_input(plans: Plans) -> None:
    b = plans.billing
    with pytest.raises(InvalidInputError, match="future"):
        b.entitlements.grant("org_a", "export", expires_at=b.now())
    for args in [("org_a", "nope"), ("", "export"), ("org_a", 5)]:
        with pytest.raises(InvalidInputError):
            b.entitlements.revoke(*args)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        b.entitlements.grants(" org")
    with pytest.raises(InvalidInputError):
        b.entitlements.refresh(7)  # type: ignore[arg-type]


def test_features_from_the_catalog_are_honoured_too(billing: Billing) -> None:
    billing.catalog.sync({
        "features": [{"key": "reports", "name": "Reports"}, {"key": "seats", "name": "Seats", "type": "metered"}],
        "products": [{"key": "biz", "name": "Business", "features": [{"key": "reports"},
                                                                     {"key": "seats", "limit": 25, "reset": "never"}],
                      "prices": [{"lookup_key": "biz_monthly", "currency": "usd", "unit_amount": 5000,
                                  "interval": "month"}]}]})
    price = billing.stripe.v1.prices.list(params={"lookup_keys": ["biz_monthly"]}).data[0].to_dict()
    cus = billing.customers.create(owner_id="org_c", email="c@example.com").id
    plans = Plans(billing, prices={"biz": price})
    plans.sync(plans.subscription(cus, "biz"))
    assert billing.has_feature("org_c", "reports")
    seats = billing.check("org_c", "seats")
    assert (seats.limit, seats.resets_at, seats.reason) == (25, None, "granted")
    billing.entitlements.close()
