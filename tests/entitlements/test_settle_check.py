"""Issue 8 item 10: the Check that commit() and release() return carries the real limit and remaining,
the same numbers check() gives at that moment (``limit=None`` reads as "unlimited")."""

from __future__ import annotations

from datetime import timedelta

from .conftest import Plans


def _numbers(c: object) -> tuple[object, ...]:
    return tuple(getattr(c, f) for f in ("limit", "used", "remaining", "resets_at"))


def test_commit_and_release_report_the_limit(plans: Plans) -> None:
    plans.sync(plans.subscription(plans.customer("org_a"), "pro"))
    b, ent = plans.billing, plans.billing.entitlements
    limit = b.check("org_a", "api_calls").limit
    assert isinstance(limit, int) and limit > 100
    other = ent.reserve("org_a", "api_calls", 30, "held", timeout=timedelta(minutes=10))   # still held
    r = ent.reserve("org_a", "api_calls", 40, "job", timeout=timedelta(minutes=10))
    done = ent.commit(r, 12)
    assert done.reason == "granted" and _numbers(done) == _numbers(b.check("org_a", "api_calls"))
    assert (done.limit, done.used, done.remaining) == (limit, 42, limit - 42)
    again = ent.commit(r, 12)
    assert again.reason == "duplicate" and _numbers(again) == _numbers(done)
    assert ent.release(other) is True
    assert _numbers(ent.quota.commit(r, None)) == _numbers(b.check("org_a", "api_calls"))   # after the release
    assert b.check("org_a", "api_calls").remaining == limit - 12
