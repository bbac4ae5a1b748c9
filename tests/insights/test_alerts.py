"""The alerts store: payment failures and usage limits recorded from the domain events, listing with filters
and keyset pages, read/dismiss/act with who and when, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from billingos import Billing, ConflictError, InvalidInputError, NotFoundError

from .conftest import subscribe


def _fail_card(billing: Billing, owner: str) -> None:
    c = billing.customers.get(owner_id=owner)
    pm = billing.stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": c.id})
    billing.customers.update(owner, default_payment_method=pm.id)


def test_a_failed_renewal_is_an_alert_once_per_attempt(shop: Billing) -> None:
    subscribe(shop, "org_f", "basic")
    _fail_card(shop, "org_f")
    shop.testing.advance(days=32)                # the renewal fails, then the first retry (day 3) fails too
    shop.testing.drain()
    failed = shop.insights.alerts(kind="payment_failed").items
    assert len(failed) >= 1 and {a.owner_id for a in failed} == {"org_f"}
    attempts = [a.data["attempt_count"] for a in failed]
    assert len(attempts) == len(set(attempts))    # one alert per failed attempt, never twice
    assert failed[-1].data["amount_due"] == 1000 and "failed (attempt 1)" in failed[-1].message
    shop.testing.drain()
    assert len(shop.insights.alerts(kind="payment_failed").items) == len(failed)


def test_list_filter_page_mark_and_export(shop: Billing) -> None:
    for owner in ("org_1", "org_2"):
        subscribe(shop, owner, "basic")
    shop.usage.track("org_1", "api_calls", 1700, "a")    # 80%
    shop.usage.track("org_2", "api_calls", 2100, "b")    # 80, 90, 100% (and a nudge)
    shop.testing.drain()
    everything = shop.insights.alerts(limit=1000).items
    assert [a.id for a in everything] == sorted((a.id for a in everything), reverse=True)   # newest first
    assert sorted(a.data["threshold"] for a in everything if a.kind == "usage_limit") == [80, 80, 90, 100]
    assert {a.kind for a in shop.insights.alerts(owner_id="org_2").items} == {"usage_limit", "upgrade_opportunity"}

    seen, after = [], None                               # keyset pages of 2 cover everything once
    while True:
        page = shop.insights.alerts(limit=2, after=after)
        seen += [a.id for a in page.items]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == [a.id for a in everything]
    assert shop.insights.unread_count() == len(everything)

    first, second, third = everything[:3]
    read = shop.insights.mark_read(first.id, by="ann@shop.co")
    assert (read.state, read.read_by, read.read_at) == ("read", "ann@shop.co", shop.now())
    shop.testing.advance(hours=1)
    gone = shop.insights.dismiss(second.id, by="bob@shop.co", note="known customer")
    assert (gone.state, gone.dismissed_by, gone.note, gone.read_by) == ("dismissed", "bob@shop.co", "known customer",
                                                                       "bob@shop.co")
    acted = shop.insights.act(first.id, by="cy@shop.co", note="called them")
    assert (acted.state, acted.acted_by, acted.read_by, acted.acted_at) == ("acted", "cy@shop.co", "ann@shop.co",
                                                                            shop.now())
    assert acted.read_at == shop.now() - timedelta(hours=1)
    with pytest.raises(ConflictError):
        shop.insights.mark_read(second.id, by="ann@shop.co")      # settled: it cannot move back
    assert shop.insights.dismiss(second.id, by="x@shop.co").dismissed_by == "bob@shop.co"   # same state: as was
    assert shop.insights.unread_count() == len(everything) - 2
    assert [a.id for a in shop.insights.alerts(state="new").items] == [a.id for a in everything[2:]]
    assert [a.id for a in shop.insights.alerts(state="acted").items] == [first.id]
    assert third.state == "new"

    text = shop.insights.export_csv(kind="usage_limit")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == [a.id for a in everything if a.kind == "usage_limit"]
    by_id = {int(r["id"]): r for r in rows}
    if second.kind == "usage_limit":
        assert by_id[second.id]["dismissed_by"] == "bob@shop.co" and by_id[second.id]["note"] == "known customer"
    assert all(r["owner_id"] in ("org_1", "org_2") and r["message"] for r in rows)


def test_bad_parameters_are_named(shop: Billing) -> None:
    with pytest.raises(InvalidInputError) as e:
        shop.insights.alerts(kind="nope")
    assert e.value.param == "kind"
    with pytest.raises(InvalidInputError) as e:
        shop.insights.alerts(after="not-a-cursor!")
    assert e.value.param == "after"
    from billingos.validation import page_cursor
    with pytest.raises(InvalidInputError):                 # an invoice list's cursor is not an alerts cursor
        shop.insights.alerts(after=page_cursor("i", 5))
    with pytest.raises(InvalidInputError) as e:
        shop.insights.mark_read(1, by=" ")
    assert e.value.param == "by"
    with pytest.raises(NotFoundError):
        shop.insights.act(999, by="a@b.co")
    with pytest.raises(InvalidInputError) as e:
        shop.insights.configure(threshold=1.5)
    assert e.value.param == "threshold"


def test_dunning_that_ends_in_cancellation_asks_why(shop: Billing) -> None:
    subscribe(shop, "org_g", "basic")
    _fail_card(shop, "org_g")
    shop.testing.advance(days=31)
    assert shop.insights.alerts(kind="cancellation_survey").items == []
    shop.testing.advance(days=14)                # retries on days 3, 5 and 10 fail: dunning cancels
    surveys = shop.insights.alerts(kind="cancellation_survey").items
    assert [s.owner_id for s in surveys] == ["org_g"]
    assert surveys[0].data["amount_due"] == 1000 and "canceled after" in surveys[0].message
    assert shop.subscriptions.list("org_g")[0].status == "canceled"
