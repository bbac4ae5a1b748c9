"""``limits_for`` answers many (owner, meter) pairs from bulk reads; each answer equals the one-by-one
definition: the largest limit ``check(owner, key, 0)`` reports over the granted features the meter counts."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from billingos import Billing
from billingos.entitlements.limits import COUNTED, largest

from .conftest import Plans

OWNERS = ["org_basic", "org_pro_plus", "org_team", "org_roll", "org_none", "org_bool"]


def _one_by_one(billing: Billing, owner: str, keys: list[str]) -> int | None:
    """The definition, through the public check (what limits_for answered before it read in bulk)."""
    limits = []
    for key in keys:
        answer = billing.entitlements.check(owner, key, 0)
        if answer.reason in COUNTED:
            if answer.limit is None:
                return None
            limits.append(answer.limit)
    return max(limits) if limits else None


def _setup(plans: Plans) -> Billing:
    b = plans.billing
    plans.sync(plans.subscription(plans.customer("org_basic"), "basic"))
    plans.sync(plans.subscription(plans.customer("org_pro_plus"), "pro"))
    b.entitlements.grant("org_pro_plus", "api_calls", limit=50)
    plans.sync(plans.subscription(plans.customer("org_team"), "team"))
    b.entitlements.grant("org_roll", "api_calls", limit=10, rollover=True)
    b.entitlements.grant("org_bool", "export")
    return b


def _statements(billing: Billing, fn: object) -> tuple[object, int]:
    count = [0]

    def seen(*_: object) -> None:
        count[0] += 1

    engine = billing.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        out = fn()  # type: ignore[operator]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return out, count[0]


def test_bulk_limits_equal_the_per_feature_checks(plans: Plans) -> None:
    b = _setup(plans)
    pairs = {(o, m) for o in OWNERS for m in ("api_calls", "export", "no_such_meter")}
    bulk = b.entitlements.limits_for(pairs)
    expected = {(o, m): _one_by_one(b, o, ["api_calls"] if m == "api_calls" else []) for o, m in pairs}
    assert bulk == expected
    assert bulk[("org_basic", "api_calls")] == 100
    assert bulk[("org_pro_plus", "api_calls")] == 1050
    assert bulk[("org_team", "api_calls")] is None
    assert bulk[("org_roll", "api_calls")] == 10
    assert bulk[("org_none", "api_calls")] is None and bulk[("org_bool", "export")] is None


def test_rollover_carried_in_counts_before_and_after_the_windows_first_use(plans: Plans) -> None:
    b = _setup(plans)
    assert b.consume("org_roll", "api_calls", 4, "k1").allowed
    start = b.check("org_roll", "api_calls").resets_at
    assert start is not None
    b.clock.set(start + timedelta(hours=1))  # type: ignore[attr-defined]
    b.entitlements.cache.expire_all()
    pair = ("org_roll", "api_calls")
    assert b.entitlements.limits_for({pair})[pair] == 16 == _one_by_one(b, "org_roll", ["api_calls"])  # no counter
    assert b.consume("org_roll", "api_calls", 1, "k2").allowed          # now the window's counter exists
    b.entitlements.cache.expire_all()
    assert b.entitlements.limits_for({pair})[pair] == 16 == _one_by_one(b, "org_roll", ["api_calls"])


def test_many_owners_cost_a_fixed_number_of_statements(plans: Plans) -> None:
    b = _setup(plans)
    for n in range(12):
        plans.sync(plans.subscription(plans.customer(f"org_more{n}"), "pro"))
    few = {(o, "api_calls") for o in OWNERS[:2]}
    many = {(o, "api_calls") for o in [*OWNERS, *(f"org_more{n}" for n in range(12))]}
    b.entitlements.cache.expire_all()
    few_answer, few_count = _statements(b, lambda: b.entitlements.limits_for(few))
    b.entitlements.cache.expire_all()
    many_answer, many_count = _statements(b, lambda: b.entitlements.limits_for(many))
    assert few_answer == {("org_basic", "api_calls"): 100, ("org_pro_plus", "api_calls"): 1050}
    assert many_answer[("org_more11", "api_calls")] == 1000                # type: ignore[index]
    # org_roll's window has no counter yet: one more read for what it would carry in
    assert many_count <= few_count + 1, (few_count, many_count)


@given(st.dictionaries(st.sampled_from("abcdef"), st.none() | st.integers(0, 10**6)),
       st.lists(st.sampled_from("abcdefg"), unique=True))
def test_largest_is_the_one_by_one_fold(found: dict[str, int | None], keys: list[str]) -> None:
    expected: int | None
    if any(k in found and found[k] is None for k in keys):
        expected = None
    else:
        present = [found[k] for k in keys if k in found]
        expected = max(present) if present else None   # type: ignore[type-var]
    assert largest(found, keys) == expected
