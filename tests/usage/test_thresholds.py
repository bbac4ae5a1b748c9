"""usage_threshold_reached: once per period per threshold (80, 90, 100 % by default), after the commit, with
the limit the owner really has (billing.entitlements.limit_for: the plan's, plus any override)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from billingos import Billing, signals


@pytest.fixture
def subscribed(catalog: Billing) -> Billing:
    customer = catalog.customers.create(owner_id="org_1", email="a@b.co")
    pm = catalog.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    customer = catalog.customers.update("org_1", default_payment_method=pm.id)
    assert catalog.subscriptions.create(customer, price="pro_monthly").status == "active"
    return catalog


@pytest.fixture
def fired(subscribed: Billing) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def on(sender: Any, **kw: Any) -> None:
        assert sender is subscribed
        seen.append(kw)

    signals.usage_threshold_reached.connect(on, sender=subscribed, weak=False)
    yield seen
    signals.usage_threshold_reached.disconnect(on, sender=subscribed)


def test_limit_comes_from_the_plan(subscribed: Billing) -> None:
    assert subscribed.usage.limit_for("org_1", "api_calls") == 1000
    assert subscribed.usage.limit_for("org_2", "api_calls") is None
    assert subscribed.usage.limit_for("org_1", "logins") is None


def test_an_override_raises_the_threshold_limit(subscribed: Billing, fired: list) -> None:
    """A sales-granted override adds to the plan's limit; thresholds follow the limit the owner has."""
    subscribed.entitlements.grant("org_1", "api_calls", limit=9000)
    assert subscribed.usage.limit_for("org_1", "api_calls") == 10_000
    subscribed.usage.track("org_1", "api_calls", 850, "a")      # 85 % of the plan alone, 8.5 % in truth
    assert fired == []
    subscribed.usage.track("org_1", "api_calls", 7200, "b")     # 80.5 %
    assert [(f["threshold"], f["limit"]) for f in fired] == [(80, 10_000)]


def test_a_changed_limit_applies_at_once_in_this_process(subscribed: Billing) -> None:
    """The limit cache follows the entitlement cache: changing an override's limit on a feature already
    granted drops the cached limit at once (it used to stay for up to 30 s)."""
    usage = subscribed.usage
    assert usage.limit_for("org_1", "api_calls") == 1000                 # now cached
    subscribed.entitlements.grant("org_1", "api_calls", limit=500)
    assert usage.limit_for("org_1", "api_calls") == 1500
    subscribed.entitlements.grant("org_1", "api_calls", limit=2000)        # same key, new limit: no grant signal
    assert usage.limit_for("org_1", "api_calls") == 3000


def test_another_process_sees_a_changed_limit_through_redis(subscribed: Billing, redis_url: str) -> None:
    """Two Billings on one database and Redis, as two processes would be: the writer's override reaches
    the reader's usage limits through the entitlement invalidation channel, not after 30 s."""
    namespace = f"billingos-test:{uuid.uuid4().hex[:12]}"
    writer, reader = (Billing(engine=subscribed.engine, emulator=subscribed.emulator, clock=subscribed.clock,
                              redis_url=redis_url) for _ in range(2))
    try:
        for b in (writer, reader):
            b.entitlements.configure(redis_namespace=namespace)
        assert reader.entitlements.cache.wait_listening()
        assert reader.usage.limit_for("org_1", "api_calls") == 1000       # cached in the reader
        heard = reader.entitlements.cache.invalidations_heard
        writer.entitlements.grant("org_1", "api_calls", limit=4000)
        deadline = time.monotonic() + 5
        while reader.entitlements.cache.invalidations_heard == heard and time.monotonic() < deadline:
            time.sleep(0.001)
        assert reader.usage.limit_for("org_1", "api_calls") == 5000
    finally:
        writer.close()
        reader.close()


def test_each_threshold_fires_once_per_period(subscribed: Billing, fired: list) -> None:
    usage = subscribed.usage
    usage.track("org_1", "api_calls", 700, "a")
    assert fired == []
    usage.track("org_1", "api_calls", 150, "b")                 # 85 %
    assert [(f["threshold"], f["used"], f["limit"]) for f in fired] == [(80, 850, 1000)]
    usage.track("org_1", "api_calls", 200, "c")                 # 105 %: 90 and 100 at once
    usage.track("org_1", "api_calls", 10, "d")
    usage.track("org_1", "api_calls", 10, "a")                  # a duplicate changes nothing
    assert [f["threshold"] for f in fired] == [80, 90, 100]
    start, end = usage.period("org_1", "api_calls")
    assert {(f["owner_id"], f["meter"], f["period_start"], f["period_end"]) for f in fired} == {
        ("org_1", "api_calls", start, end)}
    subscribed.clock.set(end + timedelta(minutes=1))              # the next period starts over
    usage.track("org_1", "api_calls", 950, "e")
    assert [f["threshold"] for f in fired] == [80, 90, 100, 80, 90]
    assert fired[-1]["period_start"] == end


def test_rolled_back_usage_fires_nothing(subscribed: Billing, fired: list) -> None:
    with Session(subscribed.engine) as host:
        host.begin()
        subscribed.usage.track("org_1", "api_calls", 999, "a", session=host)
        assert fired == []                                          # not before the commit
        host.rollback()
    assert fired == []
    with Session(subscribed.engine) as host, host.begin():
        subscribed.usage.track("org_1", "api_calls", 999, "a", session=host)
        assert fired == []
    assert [f["threshold"] for f in fired] == [80, 90]


def test_bulk_loads_fire_too(subscribed: Billing, fired: list) -> None:
    subscribed.usage.track_many([{"owner_id": "org_1", "meter": "api_calls", "value": 500,
                                  "idempotency_key": f"k{i}"} for i in range(2)])
    assert [f["threshold"] for f in fired] == [80, 90, 100]


def test_custom_thresholds(subscribed: Billing, fired: list) -> None:
    subscribed.usage.configure(thresholds=[50, 150])
    subscribed.usage.track("org_1", "api_calls", 1600, "a")
    assert [f["threshold"] for f in fired] == [50, 150]
