"""Issue 8 item 1: reconcile never wipes the local mirror because it was pointed at an empty or foreign Stripe.

A run that would remove more than ``reconcile_max_removal`` (default 10%) of a kind's local objects raises
ReconcileRefusedError and removes nothing; ``force=True`` removes them; ``dry_run=True`` writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine

from billingos import Billing, ReconcileRefusedError
from billingos.clock import FrozenClock
from billingos.customers import BillingCustomer
from billingos.emulator import Emulator


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, so "nothing written" is checked on the whole database; but the record of
    the runs themselves (every run is stored, a refused or dry one too: see test_run_history.py)."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as c:
        return {t.name: sorted(map(tuple, c.execute(select(t)).all()), key=repr) for t in meta.sorted_tables
                if t.name != "billing_reconcile_runs"}


def _live(billing: Billing) -> set[str]:
    with billing.session_factory() as s:
        return set(s.scalars(select(BillingCustomer.owner_id).where(BillingCustomer.deleted_at.is_(None))))


def _customers(billing: Billing, n: int) -> None:
    for i in range(n):
        billing.customers.create(owner_id=f"org_{i}", email=f"c{i}@b.co")


def test_an_empty_stripe_does_not_wipe_the_mirror(billing: Billing, engine: Engine, clock: FrozenClock) -> None:
    _customers(billing, 5)
    billing.reconcile()                                # a normal run: nothing to fix
    before = _snapshot(engine)
    empty = Billing(engine=engine, emulator=Emulator(clock=clock), clock=clock)   # the wrong Stripe
    with pytest.raises(ReconcileRefusedError, match=r"at least 1 of 5 local customers \(the limit is 0\)") as e:
        empty.reconcile()
    assert "force=True" in e.value.message and "--force" in e.value.message
    assert e.value.details["kinds"]["customers"]["local"] == 5
    assert _snapshot(engine) == before and _live(billing) == {f"org_{i}" for i in range(5)}
    refused = billing.reconcile.runs().items[0]
    assert (refused.error or "").startswith("reconcile refused to remove") and refused.report is None


def test_dry_run_reports_and_writes_nothing(billing: Billing, engine: Engine, clock: FrozenClock) -> None:
    _customers(billing, 5)
    billing.reconcile()
    key = billing.config.owner_metadata_key
    billing.stripe.v1.customers.create(params={"email": "new@b.co", "metadata": {key: "org_new"}})
    billing.stripe.v1.customers.update(billing.customers.get(owner_id="org_0").id,
                                       params={"name": "Renamed"})
    gone = billing.customers.get(owner_id="org_1").id
    billing.stripe.v1.customers.delete(gone)
    clock.advance(days=4)                                # past the event backfill: only the comparison sees them
    before = _snapshot(engine)
    report = billing.reconcile(dry_run=True)
    assert _snapshot(engine) == before                  # nothing written, not even freshness or events
    customers = report.kind("customers")
    assert report.dry_run and len(customers.created) == 1 and len(customers.updated) == 1
    assert customers.removed == [gone] and customers.removal_limit == 0
    assert [k.kind for k in report.over_limit] == ["customers"]       # a real run would refuse it
    with pytest.raises(ReconcileRefusedError):
        billing.reconcile()
    assert billing.customers.get(owner_id="org_0").name == "Renamed"  # what Stripe lists is still applied
    done = billing.reconcile(force=True)
    assert done.kind("customers").removed == [gone] and "org_1" not in _live(billing)


def test_removals_within_the_share_need_no_force(billing: Billing) -> None:
    _customers(billing, 20)
    billing.reconcile()
    gone = billing.customers.get(owner_id="org_3").id
    billing.stripe.v1.customers.delete(gone)
    billing.clock.advance(days=4)  # type: ignore[attr-defined]
    report = billing.reconcile()                          # 1 of 20 = 5%, within 10%
    assert report.kind("customers").removed == [gone] and report.kind("customers").removal_limit == 2
    assert "org_3" not in _live(billing)


def test_the_share_is_configurable(engine: Engine, clock: FrozenClock) -> None:
    em = Emulator(clock=clock)
    billing = Billing(engine=engine, emulator=em, clock=clock, reconcile_max_removal=0.5)
    _customers(billing, 4)
    for owner in ("org_0", "org_1"):
        billing.stripe.v1.customers.delete(billing.customers.get(owner_id=owner).id)
    clock.advance(days=4)
    assert len(billing.reconcile().kind("customers").removed) == 2           # 2 of 4 = 50%: allowed
    strict = Billing(engine=engine, emulator=em, clock=clock, reconcile_max_removal=0.0)
    billing.stripe.v1.customers.delete(billing.customers.get(owner_id="org_2").id)
    clock.advance(days=4)
    with pytest.raises(ReconcileRefusedError, match="reconcile_max_removal"):
        strict.reconcile()


def test_ended_subscriptions_are_not_removed_again(billing: Billing, engine: Engine) -> None:
    """A subscription already ended locally and missing in Stripe counts neither as removable nor removed."""
    from billingos.subscriptions.models import BillingSubscription
    _customers(billing, 1)
    with billing.transaction() as s:
        s.add(BillingSubscription(stripe_id="sub_old", customer_stripe_id=billing.customers.get(
            owner_id="org_0").id, owner_id="org_0", status="canceled", data={"id": "sub_old"},
            synced_at=billing.now()))
    report = billing.reconcile()
    assert report.kind("subscriptions").removed == [] and report.kind("subscriptions").removal_limit == 0
