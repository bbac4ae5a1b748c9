"""Upgrade nudges: 90% of a limit fires once per period; the suggestion is the cheapest higher plan that covers
the projected usage, checked against a hand computation that does not use billingos.pricing."""

from __future__ import annotations

import math
from datetime import timedelta

from billingos import Billing

from .conftest import PLANS, subscribe


def _by_hand(plan: str, seats: int, calls: int) -> int:
    """What ``plan`` costs for a period: base per seat, plus each call over the included ones."""
    _, base, included, over, _, _ = next(p for p in PLANS if p[0] == plan)
    return base * seats + max(0, calls - included) * over


def test_ninety_percent_of_a_limit_fires_once_per_period(shop: Billing, captured: dict) -> None:
    sub = subscribe(shop, "org_a", "basic")
    start, end = sub.current_period_start, sub.current_period_end
    shop.testing.advance(days=10)
    shop.usage.track("org_a", "api_calls", 1700, "u1")          # 85%: not yet
    shop.testing.drain()
    assert captured["upgrade"] == []
    shop.usage.track("org_a", "api_calls", 100, "u2")           # 90%
    shop.testing.drain()
    assert len(captured["upgrade"]) == 1
    sg = captured["upgrade"][0]["suggestion"]
    now = shop.now()
    projected = math.ceil(1800 * (end - start).total_seconds() / (now - start).total_seconds())
    assert sg.projected_usage == {"api_calls": projected}
    costs = {p[0]: _by_hand(p[0], 1, projected) for p in PLANS}
    covering = [p[0] for p in PLANS if p[0] != "basic" and (p[4] is None or p[4] >= projected)]
    assert sg.suggested_plan == min(covering, key=costs.__getitem__) == "pro"
    assert (sg.current_amount, sg.suggested_amount) == (costs["basic"], costs["pro"])
    assert set(sg.reasons) == {"usage_90", "cheaper_plan"}
    assert sg.suggested_price == "pro_monthly"
    mails = shop.testing.outbox.sent("upgrade_suggestion", to="org_a@b.co")
    assert len(mails) == 1 and "On pro you would pay" in mails[0].text

    shop.usage.track("org_a", "api_calls", 300, "u3")           # 105%: same period, no second nudge
    shop.insights.check_upgrades()                              # nor from the daily check
    shop.testing.drain()
    assert len(captured["upgrade"]) == 1
    page = shop.insights.alerts(kind="upgrade_opportunity")
    assert [i.owner_id for i in page.items] == ["org_a"]
    assert page.items[0].data["suggested_plan"] == "pro"

    shop.testing.advance(days=25)                               # the next period
    assert shop.subscriptions.get(sub.id).current_period_start > start
    shop.usage.track("org_a", "api_calls", 1850, "u4")
    shop.testing.drain()
    assert len(captured["upgrade"]) == 2


def test_the_cheapest_covering_plan_wins_even_when_it_costs_more(shop: Billing, captured: dict) -> None:
    """Projected far past pro's limit: only team covers it, and it is suggested though it costs more."""
    sub = subscribe(shop, "org_b", "basic")
    shop.testing.advance(days=3)
    shop.usage.track("org_b", "api_calls", 1900, "v1")
    shop.testing.drain()
    sg = captured["upgrade"][0]["suggestion"]
    elapsed = (shop.now() - sub.current_period_start).total_seconds()
    projected = math.ceil(1900 * (sub.current_period_end - sub.current_period_start).total_seconds() / elapsed)
    assert projected > 10_000
    assert sg.suggested_plan == "team"
    assert sg.suggested_amount == _by_hand("team", 1, projected) == 20_000
    assert sg.current_amount == _by_hand("basic", 1, projected)


def test_seats_maxed_out_suggests_a_plan_with_room(shop: Billing) -> None:
    subscribe(shop, "org_c", "basic", seats=3)
    subscribe(shop, "org_d", "basic", seats=2)
    sg = shop.insights.suggest_upgrade("org_c")
    assert sg is not None and sg.reasons == ("seats_maxed",)
    assert sg.suggested_plan == "pro"
    assert (sg.current_amount, sg.suggested_amount) == (_by_hand("basic", 3, 0), _by_hand("pro", 3, 0))
    assert shop.insights.suggest_upgrade("org_d") is None
    new = shop.insights.check_upgrades()
    assert [i.owner_id for i in new] == ["org_c"]
    assert "every seat is taken" in new[0].message
    assert shop.insights.check_upgrades() == []               # once per period


def test_no_nudge_on_the_top_plan(shop: Billing) -> None:
    subscribe(shop, "org_e", "team", seats=50)
    shop.testing.advance(timedelta(days=1))
    assert shop.insights.suggest_upgrade("org_e") is None
