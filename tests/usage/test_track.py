"""billing.usage.track: idempotent forever, atomic with the host's transaction, aggregations, periods, grace,
corrections, summaries; bad input raises InvalidInputError and writes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billingos import Billing
from billingos.errors import InvalidInputError, NotFoundError
from billingos.usage.models import BillingUsageEvent, BillingUsageKey, BillingUsageSummary

JAN = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


def _rows(billing: Billing) -> tuple[int, int, int]:
    with billing.session_factory() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in  # type: ignore[return-value]
                     (BillingUsageEvent, BillingUsageKey, BillingUsageSummary))


def test_track_counts_and_totals(catalog: Billing) -> None:
    usage = catalog.usage
    r = usage.track("org_1", "api_calls", 5, idempotency_key="req_1")
    assert (r.duplicate, r.total, (r.period_start, r.period_end)) == (False, 5, JAN)
    usage.track("org_1", "api_calls", 7, idempotency_key="req_2")
    usage.track("org_2", "api_calls", 100, idempotency_key="req_3")
    assert usage.total("org_1", "api_calls") == 12
    assert usage.total("org_2", "api_calls") == 100
    assert usage.total("org_3", "api_calls") == 0
    assert _rows(catalog) == (3, 3, 2)


def test_duplicate_events_are_counted_once(catalog: Billing) -> None:
    usage = catalog.usage
    first = usage.track("org_1", "api_calls", 5, idempotency_key="req_1")
    again = usage.track("org_1", "api_calls", 5, idempotency_key="req_1")
    other = usage.track("org_2", "api_calls", 9, idempotency_key="req_1")     # the key is global, forever
    assert (first.duplicate, again.duplicate, other.duplicate) == (False, True, True)
    assert again.total == 5
    catalog.clock.advance(days=40)                                              # a new period: still a duplicate
    assert usage.track("org_1", "api_calls", 5, idempotency_key="req_1").duplicate
    assert usage.total("org_1", "api_calls", at=JAN[0] + timedelta(days=20)) == 5
    assert _rows(catalog) == (1, 1, 1)


def test_host_session_commits_with_the_host(catalog: Billing) -> None:
    with Session(catalog.engine) as host, host.begin():
        catalog.usage.track("org_1", "api_calls", 5, idempotency_key="req_1", session=host)
        assert catalog.usage.total("org_1", "api_calls") in (0, 5)   # not visible elsewhere before commit (PG)
    assert catalog.usage.total("org_1", "api_calls") == 5


def test_rolled_back_host_transaction_is_not_counted(catalog: Billing) -> None:
    with Session(catalog.engine) as host:
        host.begin()
        catalog.usage.track("org_1", "api_calls", 5, idempotency_key="req_1", session=host)
        catalog.usage.track_many([{"owner_id": "org_1", "meter": "api_calls", "value": 3,
                                   "idempotency_key": "bulk_1"}], session=host)
        host.rollback()
    assert catalog.usage.total("org_1", "api_calls") == 0
    assert _rows(catalog) == (0, 0, 0)
    # the key was never used: the retry counts
    assert catalog.usage.track("org_1", "api_calls", 5, idempotency_key="req_1").duplicate is False
    assert catalog.usage.total("org_1", "api_calls") == 5


def test_aggregations(catalog: Billing) -> None:
    usage = catalog.usage
    usage.define_meter("peak_cpu", aggregation="max")
    usage.define_meter("active_users", aggregation="unique_count", unique_by="user")
    t0 = catalog.now() - timedelta(hours=5)
    for i, v in enumerate([3, 9, 4]):
        ts = t0 + timedelta(hours=i)
        usage.track("org_1", "api_calls", v, f"s{i}", timestamp=ts)
        usage.track("org_1", "logins", v, f"c{i}", timestamp=ts)
        usage.track("org_1", "peak_cpu", v, f"m{i}", timestamp=ts)
        usage.track("org_1", "seats_peak", v, f"l{i}", timestamp=ts)
    usage.track("org_1", "seats_peak", 1, "l_old", timestamp=t0 - timedelta(hours=1))   # older: not the last
    for i, user in enumerate(["ann", "bob", "ann", "cid", "bob"]):
        usage.track("org_1", "active_users", 1, f"u{i}", properties={"user": user})
    assert usage.total("org_1", "api_calls") == 16
    assert usage.total("org_1", "logins") == 3
    assert usage.total("org_1", "peak_cpu") == 9
    assert usage.total("org_1", "seats_peak") == 4
    assert usage.total("org_1", "active_users") == 3


def test_adjustments_correct_an_event(catalog: Billing) -> None:
    usage = catalog.usage
    usage.define_meter("peak_cpu", aggregation="max")
    usage.track("org_1", "api_calls", 10, "a")
    usage.track("org_1", "api_calls", 4, "b")
    r = usage.adjust("org_1", "api_calls", "a", "a_fix", value=-3)
    assert r.total == 11
    assert usage.adjust("org_1", "api_calls", "a", "a_fix", value=-3).duplicate      # idempotent too
    with pytest.raises(InvalidInputError):
        usage.adjust("org_1", "api_calls", "a", "a_fix2", value=-8)                  # only 7 left
    assert usage.adjust("org_1", "api_calls", "a", "a_fix3").total == 4               # the rest of it
    with pytest.raises(InvalidInputError):
        usage.adjust("org_1", "api_calls", "a", "a_fix4", value=-1)
    with pytest.raises(NotFoundError):
        usage.adjust("org_2", "api_calls", "b", "b_fix")                              # not org_2's event
    with pytest.raises(NotFoundError):
        usage.adjust("org_1", "api_calls", "a_fix", "x")                               # not an adjustment's
    usage.track("org_1", "peak_cpu", 9, "p1")
    usage.track("org_1", "peak_cpu", 5, "p2")
    with pytest.raises(InvalidInputError):
        usage.adjust("org_1", "peak_cpu", "p1", "p1_fix", value=-2)                    # max: cancel only
    assert usage.adjust("org_1", "peak_cpu", "p1", "p1_fix").total == 5
    assert [s.value for s in usage.summaries("org_1")] == [4, 5]


def test_late_events_within_the_grace_window(catalog: Billing) -> None:
    usage = catalog.usage
    usage.configure(grace=timedelta(hours=2))
    catalog.clock.set(datetime(2026, 2, 1, 1, 0, tzinfo=UTC))                    # 1 h into February
    late = usage.track("org_1", "api_calls", 5, "late", timestamp=datetime(2026, 1, 31, 23, tzinfo=UTC))
    assert (late.period_start, late.period_end) == JAN
    catalog.clock.set(datetime(2026, 2, 1, 2, 0, tzinfo=UTC))                    # January closed 2 h ago
    with pytest.raises(InvalidInputError) as exc:
        usage.track("org_1", "api_calls", 5, "too_late", timestamp=datetime(2026, 1, 31, 23, tzinfo=UTC))
    assert exc.value.param == "timestamp"
    assert usage.total("org_1", "api_calls", at=datetime(2026, 1, 20, tzinfo=UTC)) == 5
    assert usage.total("org_1", "api_calls") == 0
    assert _rows(catalog) == (1, 1, 1)


def test_periods_follow_the_subscription(catalog: Billing) -> None:
    customer = catalog.customers.create(owner_id="org_1", email="a@b.co")
    sub = catalog.subscriptions.create(customer, price="pro_api_calls")
    start, end = sub.current_period_start, sub.current_period_end
    assert (start, end) == (catalog.now(), datetime(2026, 2, 15, 12, tzinfo=UTC))
    r = catalog.usage.track("org_1", "api_calls", 5, "k1")
    assert (r.period_start, r.period_end) == (start, end)
    before = catalog.usage.track("org_1", "api_calls", 1, "k0", timestamp=start - timedelta(minutes=1))
    assert (before.period_start, before.period_end) == JAN                     # before the subscription
    # a renewal not synced yet: the next period is rolled forward from the subscription's interval
    catalog.clock.set(end + timedelta(minutes=5))
    nxt = catalog.usage.track("org_1", "api_calls", 2, "k2")
    assert (nxt.period_start, nxt.period_end) == (end, datetime(2026, 3, 15, 12, tzinfo=UTC))
    assert catalog.usage.period("org_1", "api_calls") == (end, datetime(2026, 3, 15, 12, tzinfo=UTC))


def test_summaries_per_period(catalog: Billing) -> None:
    usage = catalog.usage
    usage.track("org_1", "api_calls", 5, "a")
    usage.track("org_1", "logins", 1, "b")
    catalog.clock.set(datetime(2026, 2, 3, tzinfo=UTC))
    usage.track("org_1", "api_calls", 7, "c")
    got = [(s.meter, s.period_start.month, s.value, s.events) for s in usage.summaries("org_1")]
    assert got == [("api_calls", 2, 7, 1), ("api_calls", 1, 5, 1), ("logins", 1, 1, 1)]
    assert [s.value for s in usage.summaries("org_1", "api_calls", limit=1)] == [7]


NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("kwargs,param", [
    ({"owner_id": ""}, "owner_id"),
    ({"owner_id": " org"}, "owner_id"),
    ({"owner_id": 42}, "owner_id"),
    ({"owner_id": "x" * 256}, "owner_id"),
    ({"meter": "nope"}, "meter"),
    ({"meter": "bad name"}, "meter"),
    ({"meter": None}, "meter"),
    ({"value": -1}, "value"),
    ({"value": float("nan")}, "value"),
    ({"value": math.inf}, "value"),
    ({"value": Decimal("Infinity")}, "value"),
    ({"value": 1.5}, "value"),
    ({"value": 10**13}, "value"),
    ({"value": True}, "value"),
    ({"value": "5"}, "value"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"idempotency_key": "has space"}, "idempotency_key"),
    ({"idempotency_key": "k" * 256}, "idempotency_key"),
    ({"idempotency_key": None}, "idempotency_key"),
    ({"timestamp": datetime(2026, 1, 15, 12, 0)}, "timestamp"),                     # naive
    ({"timestamp": NOW + timedelta(minutes=6)}, "timestamp"),
    ({"timestamp": NOW - timedelta(days=60)}, "timestamp"),                       # outside the grace window
    ({"timestamp": "2026-01-15"}, "timestamp"),
    ({"properties": ["a"]}, "properties"),
    ({"properties": {"x": float("nan")}}, "properties"),
    ({"properties": {"x": object()}}, "properties"),
    ({"properties": {"x": "y" * 5000}}, "properties"),
])
def test_bad_input_raises_and_writes_nothing(catalog: Billing, kwargs: dict, param: str) -> None:
    args = {"owner_id": "org_1", "meter": "api_calls", "value": 1, "idempotency_key": "k1", **kwargs}
    with pytest.raises(InvalidInputError) as exc:
        catalog.usage.track(**args)
    assert exc.value.param == param
    assert _rows(catalog) == (0, 0, 0)


def test_whole_decimals_and_floats_are_accepted(catalog: Billing) -> None:
    catalog.usage.track("org_1", "api_calls", Decimal("3"), "a")
    catalog.usage.track("org_1", "api_calls", 2.0, "b")
    assert catalog.usage.total("org_1", "api_calls") == 5


def test_meter_configuration_errors(catalog: Billing) -> None:
    usage = catalog.usage
    with pytest.raises(InvalidInputError):
        usage.define_meter("x", aggregation="median")
    with pytest.raises(InvalidInputError):
        usage.define_meter("x", aggregation="unique_count")                 # needs unique_by
    with pytest.raises(InvalidInputError):
        usage.define_meter("x", aggregation="sum", unique_by="user")
    usage.define_meter("active", aggregation="unique_count", unique_by="user")
    with pytest.raises(InvalidInputError):
        usage.track("org_1", "active", 1, "k", properties={"other": 1})     # the unique property is missing
    with pytest.raises(InvalidInputError):
        usage.configure(grace=timedelta(days=-1))
    with pytest.raises(InvalidInputError):
        usage.configure(thresholds=[0])
    assert _rows(catalog) == (0, 0, 0)
