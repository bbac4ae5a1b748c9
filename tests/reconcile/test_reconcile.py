"""Reconciliation: backfill from the Events API, then full-list comparison. Stripe wins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, InvalidInputError, signals
from billingos.customers import BillingCustomer


def _rows(billing: Billing) -> dict[str, Any]:
    with billing.session_factory() as s:
        return {r.stripe_id: (r.owner_id, r.email, r.name, r.deleted_at is not None)
                for r in s.scalars(select(BillingCustomer))}


def test_dual_write_fault_after_stripe_is_healed(billing: Billing) -> None:
    """The Stripe call succeeds, the commit fails: reconcile re-creates the row from Stripe."""
    from billingos.domain_events import CustomerSynced

    def boom(session: Any, event: Any) -> None:   # the transaction storing it fails, after Stripe made it
        raise RuntimeError("database went away before commit")

    billing.events.subscribe_in_transaction(CustomerSynced, boom)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            billing.customers.create(owner_id="org_lost", email="lost@b.co")
    finally:
        billing.events._in_transaction[CustomerSynced].remove(boom)
    assert _rows(billing) == {}
    remote = billing.stripe.v1.customers.list().data
    assert len(remote) == 1
    report = billing.reconcile()
    assert _rows(billing) == {remote[0].id: ("org_lost", "lost@b.co", None, False)}
    assert report.events_backfilled == 1 and report.kind("customers").fixed == 0
    again = billing.reconcile()
    assert again.fixed == 0 and again.events_backfilled == 0


def test_dropped_deliveries_for_a_day_are_applied_exactly_once(billing: Billing, clock: Any) -> None:
    key = billing.config.owner_metadata_key
    created: list[str] = []
    signals.customer_created.connect(lambda sender, customer, owner_id: created.append(owner_id), weak=False)
    try:
        ids = []
        for i in range(12):  # Dashboard-side changes over a day; no webhook arrives
            c = billing.stripe.v1.customers.create(params={"email": f"d{i}@b.co", "metadata": {key: f"org_{i}"}})
            clock.advance(hours=2)
            ids.append(c.id)
        billing.stripe.v1.customers.update(ids[0], params={"name": "Renamed"})
        billing.stripe.v1.customers.delete(ids[1])
        report = billing.reconcile()
        first = _rows(billing)
        second = billing.reconcile()
    finally:
        signals.customer_created.receivers.clear()
    assert report.events_backfilled == 14 and report.events_processed == 14
    assert first[ids[0]] == ("org_0", "d0@b.co", "Renamed", False)
    assert ids[1] not in first          # created and deleted before we heard of it: never stored
    assert {k: v for k, v in first.items() if k not in ids[:2]} == {
        cid: (f"org_{i}", f"d{i}@b.co", None, False) for i, cid in enumerate(ids) if i >= 2}
    assert sorted(created) == sorted(f"org_{i}" for i in range(12) if i != 1)
    assert second.fixed == 0 and second.events_backfilled == 0 and _rows(billing) == first


def test_comparison_fixes_drift_and_signals_over_threshold(billing: Billing) -> None:
    billing.reconcile.threshold = 2
    for i in range(4):
        billing.customers.create(owner_id=f"org_{i}", email=f"x{i}@b.co")
    assert billing.reconcile().fixed == 0     # stores the creation events; nothing drifted yet
    with billing.transaction() as s:  # local drift: someone edited rows by hand
        for row in s.scalars(select(BillingCustomer)):
            row.email = "drift@b.co"
    fixed: list[Any] = []
    signals.reconciliation_fixed.connect(lambda sender, report: fixed.append(report), weak=False)
    try:
        report = billing.reconcile()
    finally:
        signals.reconciliation_fixed.receivers.clear()
    assert report.kind("customers").checked == 4 and len(report.kind("customers").updated) == 4
    assert {v[1] for v in _rows(billing).values()} == {f"x{i}@b.co" for i in range(4)}
    assert [r.fixed for r in fixed] == [4]


def test_events_older_than_the_lookback_are_not_backfilled(billing: Billing, clock: Any) -> None:
    key = billing.config.owner_metadata_key
    billing.stripe.v1.customers.create(params={"email": "old@b.co", "metadata": {key: "org_old"}})
    clock.advance(days=4)
    report = billing.reconcile()
    assert report.events_backfilled == 0
    assert report.kind("customers").created != []       # the full-list comparison still finds it
    with billing.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BillingCustomer)) == 1


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(days=31), 3])
def test_bad_lookback(billing: Billing, bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="lookback"):
        billing.reconcile(lookback=bad)
