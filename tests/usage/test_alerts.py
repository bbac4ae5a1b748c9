"""Customers' own alert thresholds (billing.usage.set_alert_thresholds): validated, stored per owner and
feature, and honoured by usage_threshold_reached and its email, once per threshold and period."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, signals
from billingos.errors import InvalidInputError
from billingos.jobs.models import BillingJob
from billingos.usage.models import BillingUsageAlert


@pytest.fixture
def subscribed(catalog: Billing) -> Billing:
    for owner in ("org_1", "org_2"):
        customer = catalog.customers.create(owner_id=owner, email=f"{owner}@b.co")
        pm = catalog.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
        customer = catalog.customers.update(owner, default_payment_method=pm.id)
        assert catalog.subscriptions.create(customer, price="pro_monthly").status == "active"
    return catalog


@pytest.fixture
def fired(subscribed: Billing) -> Any:
    seen: list[dict[str, Any]] = []

    def on(sender: Any, **kw: Any) -> None:
        seen.append(kw)

    signals.usage_threshold_reached.connect(on, sender=subscribed, weak=False)
    yield seen
    signals.usage_threshold_reached.disconnect(on, sender=subscribed)


def _rows(billing: Billing) -> int:
    with billing.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(BillingUsageAlert)) or 0)


def test_set_and_read_back(subscribed: Billing) -> None:
    usage = subscribed.usage
    assert usage.alert_thresholds("org_1") == {"api_calls": ("api_calls", (80, 90, 100), False)}
    saved = usage.set_alert_thresholds("org_1", "api_calls", [80, 50, 80])
    assert saved == ("api_calls", (50, 80), True)
    assert usage.alert_thresholds("org_1")["api_calls"] == ("api_calls", (50, 80), True)
    assert usage.alert_thresholds("org_2")["api_calls"].custom is False        # another owner's untouched
    usage.set_alert_thresholds("org_1", "api_calls", [95])                     # replaces, one row
    assert usage.alert_thresholds("org_1")["api_calls"].thresholds == (95,)
    assert _rows(subscribed) == 1
    usage.set_alert_thresholds("org_1", "api_calls", None)                     # back to the defaults
    assert usage.alert_thresholds("org_1")["api_calls"] == ("api_calls", (80, 90, 100), False)
    assert _rows(subscribed) == 0


@pytest.mark.parametrize("bad", [
    [0], [101], [50.5], [True], ["50"], [None], [math.nan], [10**30], [1, 2, 3, 4, 5, 6], "50,80", b"50",
    {"a": 50}, 50, list(range(1, 200)), [-5],
])
def test_bad_thresholds_write_nothing(subscribed: Billing, bad: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        subscribed.usage.set_alert_thresholds("org_1", "api_calls", bad)
    assert err.value.param == "thresholds"
    assert _rows(subscribed) == 0


@pytest.mark.parametrize("feature", ["nope", "", "a\x00b", "\ud800", 42, None, "x" * 500])
def test_unknown_or_bad_features_are_refused(subscribed: Billing, feature: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        subscribed.usage.set_alert_thresholds("org_1", feature, [50])
    assert err.value.param == "feature"
    assert _rows(subscribed) == 0


def test_bad_owner_is_refused(subscribed: Billing) -> None:
    for owner in ("", None, "a\x00", 7):
        with pytest.raises(InvalidInputError):
            subscribed.usage.set_alert_thresholds(owner, "api_calls", [50])   # type: ignore[arg-type]
    assert _rows(subscribed) == 0


def test_the_signal_fires_at_the_customers_thresholds_once_per_period(subscribed: Billing, fired: list) -> None:
    usage = subscribed.usage
    usage.set_alert_thresholds("org_1", "api_calls", [50, 80])
    usage.track("org_1", "api_calls", 400, "a")
    assert fired == []
    usage.track("org_1", "api_calls", 150, "b")                 # 55 %
    assert [(f["owner_id"], f["threshold"], f["used"]) for f in fired] == [("org_1", 50, 550)]
    usage.track("org_1", "api_calls", 400, "c")                 # 95 %: 80 only (90 is not the customer's)
    usage.track("org_1", "api_calls", 100, "d")                 # 105 %: nothing (100 is not theirs either)
    assert [f["threshold"] for f in fired] == [50, 80]
    usage.track("org_2", "api_calls", 850, "e")                 # the other owner keeps the defaults
    assert [(f["owner_id"], f["threshold"]) for f in fired[2:]] == [("org_2", 80)]
    end = usage.period("org_1", "api_calls")[1]
    subscribed.clock.set(end + timedelta(minutes=1))           # a new period: each fires once again
    usage.track("org_1", "api_calls", 900, "f")
    assert [f["threshold"] for f in fired if f["owner_id"] == "org_1"] == [50, 80, 50, 80]


def test_a_change_applies_at_once_and_a_fired_threshold_stays_fired(subscribed: Billing, fired: list) -> None:
    usage = subscribed.usage
    usage.set_alert_thresholds("org_1", "api_calls", [50])
    usage.track("org_1", "api_calls", 600, "a")                 # caches the customer's thresholds
    assert [f["threshold"] for f in fired] == [50]
    usage.set_alert_thresholds("org_1", "api_calls", [50, 60, 70])    # 60 already passed: fires next time
    usage.track("org_1", "api_calls", 50, "b")                  # 65 %
    assert [f["threshold"] for f in fired] == [50, 60]
    usage.set_alert_thresholds("org_1", "api_calls", [])          # off
    usage.track("org_1", "api_calls", 300, "c")                 # 95 %
    assert [f["threshold"] for f in fired] == [50, 60]


def test_bulk_loads_honour_them_too(subscribed: Billing, fired: list) -> None:
    subscribed.usage.set_alert_thresholds("org_1", "api_calls", [25, 75])
    subscribed.usage.track_many([{"owner_id": "org_1", "meter": "api_calls", "value": 400,
                                  "idempotency_key": f"k{i}"} for i in range(2)])
    assert [f["threshold"] for f in fired] == [25, 75]


def test_the_email_goes_out_once_per_threshold(subscribed: Billing) -> None:
    usage = subscribed.usage
    usage.set_alert_thresholds("org_1", "api_calls", [30, 60])
    usage.track("org_1", "api_calls", 350, "a")
    usage.track("org_1", "api_calls", 10, "b")
    usage.track("org_1", "api_calls", 300, "c")
    with subscribed.session_factory() as s:
        keys = sorted(s.scalars(select(BillingJob.key).where(BillingJob.queue == "notifications.send")))
    assert [k.rsplit(":", 1)[1] for k in keys if k.startswith("usage_threshold:org_1:")] == ["30", "60"]
