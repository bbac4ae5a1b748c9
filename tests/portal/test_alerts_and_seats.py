"""Issue 10's last portal gaps, through both adapters: the customer's own usage alert thresholds on the
usage page, and seats (quantity) in the plan picker for a per-seat tiered plan, with Stripe's preview."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import Engine

from billingos import Billing, FrozenClock, signals
from billingos.catalog.schemas import Catalog
from billingos.emulator import Emulator
from tests.conftest import WEBHOOK_SECRET

from .conftest import OTHER, OWNER, Portal, customer_with_card

CATALOG: dict[str, Any] = {
    "meters": [{"event_name": "api_calls", "display_name": "API calls", "aggregation": "sum"}],
    "features": [{"key": "api_calls", "name": "API calls", "type": "metered", "meter": "api_calls"},
                 {"key": "export", "name": "Export"}],
    "products": [
        {"key": "basic", "name": "Basic", "features": [{"key": "api_calls", "limit": 1000}],
         "prices": [{"lookup_key": "basic_monthly", "currency": "usd", "unit_amount": 1000, "interval": "month"}]},
        {"key": "team", "name": "Team", "features": ["export", {"key": "api_calls", "limit": 100_000}],
         "prices": [{"lookup_key": "team_monthly", "currency": "usd", "interval": "month",
                     "tiers_mode": "graduated", "metadata": {"max_quantity": "50"},
                     "tiers": [{"up_to": 5, "flat_amount": 9900, "unit_amount": 0},
                               {"up_to": "inf", "unit_amount": 1500}]}]},
    ],
}
USAGE, ALERTS = "/billing/portal/usage", "/billing/portal/usage/alerts"
PLANS, PREVIEW, CHANGE = "/billing/portal/plans", "/billing/portal/plans/preview", "/billing/portal/plans/change"


@pytest.fixture
def cbilling(sqlite_engine: Engine) -> Iterator[Billing]:
    from datetime import UTC, datetime
    clock = FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    billing = Billing(engine=sqlite_engine, emulator=Emulator(clock=clock), clock=clock,
                      webhook_secrets=[WEBHOOK_SECRET])
    billing.testing.connect()
    billing.catalog.sync(Catalog.model_validate(CATALOG))
    billing.testing.drain()
    yield billing
    billing.close()


@pytest.fixture(params=["flask", "fastapi"])
def portal(request: pytest.FixtureRequest, cbilling: Billing) -> Portal:
    return Portal(request.param, cbilling)


def _subscribe(billing: Billing, price: str = "basic_monthly", quantity: int | None = None) -> Any:
    return billing.subscriptions.create(customer_with_card(billing), price=price, quantity=quantity)


def _own(billing: Billing) -> Any:
    return billing.usage.alert_thresholds(OWNER)["api_calls"]


# --- usage alerts ---------------------------------------------------------------------------------------
def test_the_customer_sets_alerts_and_the_signal_follows_them(portal: Portal) -> None:
    billing = portal.billing
    _subscribe(billing)
    page = portal.get(USAGE)
    assert page.status == 200 and "Usage alerts" in page.text and "Now: our defaults." in page.text
    assert 'name="thresholds" value="80, 90, 100"' in page.html
    done = portal.submit(ALERTS, {"feature": "api_calls", "thresholds": " 80%, 50 ,50", "action": "save"}, USAGE)
    assert done.status == 303 and done.location.endswith("/billing/portal/usage?done=alerts")
    assert _own(billing) == ("api_calls", (50, 80), True)
    shown = portal.follow(done)
    assert "Your usage alerts were saved." in shown.text and 'value="50, 80"' in shown.html
    assert "Now: your own." in shown.text
    fired: list[int] = []

    def on(sender: Any, **kw: Any) -> None:
        fired.append(kw["threshold"])
    signals.usage_threshold_reached.connect(on, sender=billing, weak=False)
    try:
        billing.usage.track(OWNER, "api_calls", 600, "u1")
        billing.usage.track(OWNER, "api_calls", 300, "u2")
        billing.usage.track(OWNER, "api_calls", 200, "u3")
    finally:
        signals.usage_threshold_reached.disconnect(on, sender=billing)
    assert fired == [50, 80]                                          # not the defaults' 90 and 100


def test_empty_turns_alerts_off_and_reset_goes_back_to_the_defaults(portal: Portal) -> None:
    _subscribe(portal.billing)
    assert portal.submit(ALERTS, {"feature": "api_calls", "thresholds": ""}, USAGE).status == 303
    assert _own(portal.billing) == ("api_calls", (), True)
    assert "Now: off." in portal.get(USAGE).text
    assert portal.submit(ALERTS, {"feature": "api_calls", "thresholds": "5", "action": "reset"}, USAGE).status == 303
    assert _own(portal.billing) == ("api_calls", (80, 90, 100), False)


@pytest.mark.parametrize("typed", ["0", "101", "abc", "1,2,3,4,5,6", "50.5", "-5", "5\x00", "\u00e9", "1e2",
                                   "\u0665\u0660", "9" * 400, "50;;80;;" * 40])
def test_bad_thresholds_are_refused_in_words_and_nothing_is_written(portal: Portal, typed: str) -> None:
    _subscribe(portal.billing)
    answer = portal.submit(ALERTS, {"feature": "api_calls", "thresholds": typed}, USAGE)
    assert answer.status == 400, answer.text[:300]
    if "cannot be used" not in answer.text:          # NUL, lone surrogates: the form parser refuses the request
        assert "whole percentages from 1 to 100" in answer.text or "at most 5" in answer.text
        assert 'aria-invalid="true"' in answer.html
    assert _own(portal.billing).custom is False


def test_alerts_are_owner_scoped_and_csrf_checked(portal: Portal) -> None:
    _subscribe(portal.billing)
    no_token = portal.post(ALERTS, {"feature": "api_calls", "thresholds": "50"})
    assert no_token.status == 403
    for feature in ("export", "nope", "", "../api_calls", "API_CALLS"):     # not a metered feature of theirs
        assert portal.submit(ALERTS, {"feature": feature, "thresholds": "50"}, USAGE).status == 404
    token = portal.token(USAGE)
    other = portal.post(ALERTS, {"csrf_token": token, "feature": "api_calls", "thresholds": "50"}, owner=OTHER)
    assert other.status == 404                                        # OTHER has no plan, so no such feature
    assert portal.post(ALERTS, {"csrf_token": token, "feature": "api_calls", "thresholds": "50"},
                       owner=None).status in (401, 302)
    assert _own(portal.billing).custom is False and portal.billing.usage.alert_thresholds(OTHER) == {}


# --- seats ---------------------------------------------------------------------------------------------
def test_a_new_customer_picks_seats_and_pays_the_tiered_amount(portal: Portal) -> None:
    billing = portal.billing
    customer_with_card(billing)
    plans = portal.get(PLANS)
    assert plans.status == 200 and "billed per seat" in plans.text and 'name="quantity"' in plans.html
    preview = portal.get(f"{PREVIEW}?price=team_monthly&quantity=7")
    assert preview.status == 200, preview.text[:400]
    assert "Team · 7 seats" in preview.text and "charged $129.00" in preview.text    # $99 for 5, then 2 x $15
    assert preview.field("quantity") == "7"
    done = portal.post(CHANGE, {"csrf_token": preview.field("csrf_token"), "price": "team_monthly",
                                "quantity": "7"})
    assert done.status == 303 and done.location.endswith("done=started")
    sub = billing.subscriptions.list(OWNER)[-1]
    assert (sub.price, sub.items[0].quantity) == ("team_monthly", 7)
    assert billing.invoices.list(OWNER)[0].amount_due == 12_900
    entry = billing.audit.list(target_type="subscription").items[0]
    assert (entry.action, entry.actor_kind, entry.actor_id) == ("subscription.create", "owner", OWNER)


def test_adding_seats_shows_stripes_preview_and_charges_it(portal: Portal) -> None:
    billing = portal.billing
    _subscribe(billing, "team_monthly", 7)
    billing.testing.advance(days=10)
    plans = portal.get(PLANS)
    assert "Your plan 7 seats" in plans.text and "Change seats" in plans.text
    preview = portal.get(f"{PREVIEW}?price=team_monthly&quantity=10")
    assert preview.status == 200, preview.text[:400]
    sub = billing.subscriptions.list(OWNER)[-1]
    expected = billing.subscriptions.preview_change(sub, price="team_monthly", quantity=10,
                                                    proration="always_invoice", proration_date=billing.now())
    due = re.search(r"Due now \$([\d,.]+)", preview.text)
    assert due is not None and due.group(1) == f"{expected.amount_due / 100:,.2f}" and expected.amount_due > 0
    done = portal.post(CHANGE, {"csrf_token": preview.field("csrf_token"), "price": "team_monthly",
                                "quantity": "10", "stamp": preview.field("stamp")})
    assert done.status == 303 and done.location.endswith("done=changed")
    sub = billing.subscriptions.list(OWNER)[-1]
    assert sub.items[0].quantity == 10 and billing.invoices.list(OWNER)[0].amount_due == expected.amount_due


def test_removing_seats_waits_for_the_period_end_and_can_be_taken_back(portal: Portal) -> None:
    billing = portal.billing
    _subscribe(billing, "team_monthly", 8)
    preview = portal.get(f"{PREVIEW}?price=team_monthly&quantity=6")
    assert "Nothing is charged now" in preview.text
    done = portal.submit(CHANGE, {"price": "team_monthly", "quantity": "6"}, PLANS)
    assert done.location.endswith("done=scheduled")
    sub = billing.subscriptions.list(OWNER)[-1]
    assert sub.items[0].quantity == 8 and sub.scheduled_change is not None and sub.scheduled_change.quantity == 6
    plans = portal.get(PLANS)
    assert "your plan changes to Team with 6 seats" in plans.text
    kept = portal.submit("/billing/portal/plans/keep", {}, PLANS)
    assert kept.status == 303 and kept.location.endswith("done=kept")
    assert billing.subscriptions.list(OWNER)[-1].scheduled_change is None
    assert "A change is scheduled" not in portal.follow(kept).text
    actions = [(e.action, e.actor_id) for e in billing.audit.list(target_type="subscription").items]
    assert actions[:2] == [("subscription.cancel_scheduled_change", OWNER), ("subscription.change", OWNER)]


def test_leaving_a_seat_plan_goes_back_to_one(portal: Portal) -> None:
    billing = portal.billing
    _subscribe(billing, "team_monthly", 9)
    billing.subscriptions.change(billing.subscriptions.list(OWNER)[-1], price="basic_monthly", quantity=1,
                                 proration="none")
    _ = portal.get(PLANS)
    billing.subscriptions.change(billing.subscriptions.list(OWNER)[-1], price="team_monthly", quantity=9,
                                 proration="none")
    done = portal.submit(CHANGE, {"price": "basic_monthly"}, PLANS)      # a downgrade: at the period end
    assert done.status == 303
    change = billing.subscriptions.list(OWNER)[-1].scheduled_change
    assert change is not None and (change.lookup_key, change.quantity) == ("basic_monthly", 1)


@pytest.mark.parametrize("quantity", ["0", "51", "-1", "1.5", "abc", "1e3", "\x00", "99999999999", "\u0667",
                                      "3\u00e9"])
def test_bad_seat_counts_are_refused_and_nothing_changes(portal: Portal, quantity: str) -> None:
    billing = portal.billing
    _subscribe(billing, "team_monthly", 7)
    preview = portal.get(f"{PREVIEW}?price=team_monthly&quantity={quote(quantity)}")
    words = ("seats from 1 to 50", "cannot be used")
    assert preview.status == 400 and any(w in preview.text for w in words), preview.text[:300]
    changed = portal.submit(CHANGE, {"price": "team_monthly", "quantity": quantity}, PLANS)
    assert changed.status == 400 and any(w in changed.text for w in words), changed.text[:300]
    sub = billing.subscriptions.list(OWNER)[-1]
    assert sub.items[0].quantity == 7 and sub.scheduled_change is None


def test_a_plan_not_billed_per_seat_takes_no_quantity(portal: Portal) -> None:
    customer_with_card(portal.billing)
    answer = portal.get(f"{PREVIEW}?price=basic_monthly&quantity=3")
    assert answer.status == 400 and "not billed per seat" in answer.text
    same = portal.get(f"{PREVIEW}?price=team_monthly")                  # no quantity: one seat
    assert same.status == 200 and "Team · 1 seat" in same.text and "charged $99.00" in same.text
