"""Reconcile's ``payment_methods`` kind: saved cards older than the Events API window reach the portal.
The cards are saved with the plain SDK, then the clock moves 40 days on, so no event of the reconcile
window mentions them: only the per-customer list can find them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from billingos import Billing
from billingos.clock import FrozenClock
from billingos.payment_methods.models import BillingPaymentMethod


def _old_customer(billing: Billing, clock: FrozenClock, owner: str, cards: int) -> str:
    stripe = billing.stripe
    customer = stripe.v1.customers.create(params={"email": f"{owner}@x.co",
                                                  "metadata": {"billingos_owner_id": owner}})
    for _ in range(cards):
        stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    return str(customer.id)


def _list_calls(billing: Billing) -> list[str]:
    return [path for method, path, _ in billing.emulator.request_log
            if method == "GET" and path.startswith("/v1/payment_methods")]


def test_reconcile_imports_cards_older_than_the_event_window(billing: Billing, clock: FrozenClock) -> None:
    many = _old_customer(billing, clock, "u_many", 105)         # more than one page of 100
    one = _old_customer(billing, clock, "u_one", 1)
    none = _old_customer(billing, clock, "u_none", 0)
    clock.advance(timedelta(days=40))
    assert billing.payment_methods.list("u_one") == []
    calls = len(_list_calls(billing))
    routine = billing.reconcile()                               # the hourly run does not list cards
    assert [k.kind for k in routine.kinds if k.kind == "payment_methods"] == [] and len(_list_calls(billing)) == calls
    report = billing.reconcile(kinds=["payment_methods"])
    assert [k.kind for k in report.kinds] == ["payment_methods"]
    kind = report.kind("payment_methods")
    assert (len(kind.created), kind.updated, kind.removed) == (106, [], [])
    assert len(billing.payment_methods.list("u_many")) == 105
    [card] = billing.payment_methods.list("u_one")
    assert (card.last4, card.customer, card.owner_id) == ("4242", one, "u_one")
    assert billing.payment_methods.list("u_none") == []
    # the cost: one list call per mirrored customer, one more per extra page (105 cards: 2 pages)
    assert len(_list_calls(billing)) - calls == 3 + 1
    assert {many, none} <= {c.id for c in billing.customers.list().items}
    again = billing.reconcile(kinds=["payment_methods", "payment_methods"]).kind("payment_methods")
    assert (again.created, again.updated, again.removed, again.checked) == ([], [], [], 106)


def test_a_card_detached_while_nobody_listened_is_marked_detached(billing: Billing, clock: FrozenClock) -> None:
    cus = _old_customer(billing, clock, "u_det", 2)
    billing.reconcile(kinds=["payment_methods"])
    [first, second] = billing.payment_methods.list("u_det")
    billing.stripe.v1.payment_methods.detach(first.id)
    clock.advance(timedelta(days=31))           # the detach event is out of the window
    report = billing.reconcile(lookback=timedelta(hours=1), kinds=["payment_methods"])
    assert report.events_backfilled == 0 and report.kind("payment_methods").checked == 1
    assert [c.id for c in billing.payment_methods.list("u_det")] == [second.id]
    with billing.session_factory() as s:
        row = s.scalars(select(BillingPaymentMethod).where(BillingPaymentMethod.stripe_id == first.id)).one()
        assert (row.detached, row.customer_stripe_id) == (True, cus)


def test_kinds_must_be_known_names(billing: Billing) -> None:
    from billingos import InvalidInputError
    for bad in ("payment_methods", ["cards"], [1], ["payment_methods\x00"]):
        with pytest.raises(InvalidInputError):
            billing.reconcile(kinds=bad)
    assert billing.reconcile.runs().items == []          # refused before it started: no run is recorded
