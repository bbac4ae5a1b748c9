"""The Stripe push: aggregated deltas reach the emulator's meter exactly once, through outages, retries,
crashes and several workers at once; reconciliation compares with Stripe's meter event summaries."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from billingos import Billing
from billingos.emulator import MeterEventRecord
from billingos.usage.reporting import QUEUE, identifier


def _stripe_total(billing: Billing, owner: str = "org_1", meter: str = "api_calls") -> float:
    m = billing.usage.meter(meter)
    cust = billing.customers.get(owner_id=owner)
    start, end = billing.usage.period(owner, meter)
    page = billing.stripe.v1.billing.meters.event_summaries.list(m.stripe_id, params={
        "customer": cust.id, "start_time": int(start.timestamp()), "end_time": int(end.timestamp())})
    return sum(x.aggregated_value for x in page.data)


def _sent_events(billing: Billing) -> list[MeterEventRecord]:
    return billing.emulator.meter_events()


@pytest.fixture
def owner(catalog: Billing) -> Billing:
    catalog.customers.create(owner_id="org_1", email="a@b.co")
    return catalog


def test_push_sends_aggregated_deltas_with_stable_identifiers(owner: Billing) -> None:
    usage = owner.usage
    for i in range(5):
        usage.track("org_1", "api_calls", 10, f"k{i}")
    report = usage.push()
    assert (report.staged, report.sent, report.retrying, report.failed) == (1, 1, 0, 0)
    assert _stripe_total(owner) == 50
    usage.track("org_1", "api_calls", 7, "k9")
    assert usage.push().sent == 1
    assert usage.push().sent == 0                                   # nothing new: nothing sent
    assert _stripe_total(owner) == 57
    events = _sent_events(owner)
    assert [int(e.value) for e in events] == [50, 7]
    start = usage.period("org_1", "api_calls")[0]
    assert [e.identifier for e in events] == [identifier("org_1", "api_calls", start, 5),
                                                  identifier("org_1", "api_calls", start, 6)]


def test_stripe_down_then_every_unit_arrives_exactly_once(owner: Billing) -> None:
    usage, faults = owner.usage, owner.emulator.faults
    usage.track("org_1", "api_calls", 10, "a")
    faults.down = True
    r1 = usage.push()
    assert (r1.sent, r1.retrying) == (0, 1)
    usage.track("org_1", "api_calls", 5, "b")                         # usage keeps being tracked meanwhile
    assert usage.push().sent == 0                                     # the first row is backing off
    owner.clock.advance(minutes=1)
    r3 = usage.push()
    assert (r3.sent, r3.retrying) == (0, 2)
    faults.down = False
    assert usage.push().sent == 0                                     # still backing off: nothing lost
    owner.clock.advance(minutes=5)
    assert usage.push().sent == 2
    assert usage.push().sent == 0
    assert _stripe_total(owner) == 15
    assert sorted(int(e.value) for e in _sent_events(owner)) == [5, 10]
    jobs = sorted(owner.jobs.list(queue=QUEUE), key=lambda j: j.id)
    assert [(j.status, j.result, j.attempts) for j in jobs] == [("done", "sent", 3), ("done", "sent", 3)]


def test_server_errors_retry_with_backoff(owner: Billing) -> None:
    usage = owner.usage
    usage.track("org_1", "api_calls", 3, "a")
    owner.emulator.faults.fail_next = 1
    assert usage.push().retrying == 1
    (job,) = owner.jobs.list(queue=QUEUE)
    assert job.status == "failed" and job.run_at == owner.now() + timedelta(seconds=30)
    assert "500" in (job.last_error or "") or job.last_error
    owner.clock.advance(seconds=30)
    assert usage.push().sent == 1
    assert _stripe_total(owner) == 3


def test_a_crash_after_sending_is_not_counted_twice(owner: Billing) -> None:
    """The row was delivered but the worker died before marking it: the lease expires, it is sent again,
    Stripe refuses the identifier as a duplicate, and billingos counts that as delivered."""
    usage = owner.usage
    usage.track("org_1", "api_calls", 8, "a")
    usage.reporter.stage()
    claimed = owner.jobs.claim(QUEUE)
    assert len(claimed) == 1
    usage.reporter.deliver(claimed[0], owner.customers.get(owner_id="org_1").id,
                           _meter_row(owner))                                    # ... and the worker dies here
    assert usage.push().sent == 0                                                # leased to the dead worker
    owner.clock.advance(minutes=6)
    assert usage.push().sent == 1
    assert _stripe_total(owner) == 8
    assert len(_sent_events(owner)) == 1


def _meter_row(billing: Billing):  # type: ignore[no-untyped-def]
    from billingos.catalog.models import BillingMeter
    with billing.session_factory() as s:
        return s.scalars(select(BillingMeter).where(BillingMeter.event_name == "api_calls")).one()


def test_last_and_count_meters(owner: Billing) -> None:
    usage = owner.usage
    for i, v in enumerate([4, 9, 6]):
        usage.track("org_1", "seats_peak", v, f"s{i}", timestamp=owner.now() - timedelta(minutes=10 - i))
        usage.track("org_1", "logins", 1, f"l{i}")
    usage.push()
    assert _stripe_total(owner, meter="seats_peak") == 6
    assert _stripe_total(owner, meter="logins") == 3
    usage.track("org_1", "seats_peak", 2, "s9")
    usage.track("org_1", "logins", 1, "l9")
    owner.clock.advance(seconds=5)
    usage.push()
    assert _stripe_total(owner, meter="seats_peak") == 2
    assert _stripe_total(owner, meter="logins") == 4


def test_corrections_push_negative_deltas(owner: Billing) -> None:
    usage = owner.usage
    usage.track("org_1", "api_calls", 10, "a")
    usage.push()
    usage.adjust("org_1", "api_calls", "a", "a_fix", value=-4)
    usage.push()
    assert _stripe_total(owner) == 6
    assert [int(e.value) for e in _sent_events(owner)] == [10, -4]


def test_owner_without_customer_waits(catalog: Billing) -> None:
    usage = catalog.usage
    usage.track("org_9", "api_calls", 4, "a")
    r = usage.push()
    assert (r.sent, r.retrying) == (0, 1) and "no Stripe customer" in r.errors[0]
    catalog.customers.create(owner_id="org_9", email="n@b.co")
    catalog.clock.advance(minutes=1)
    assert usage.push().sent == 1
    assert _stripe_total(catalog, owner="org_9") == 4


def test_local_only_meters_are_not_pushed(owner: Billing) -> None:
    owner.usage.define_meter("internal", aggregation="max")
    owner.usage.track("org_1", "internal", 5, "a")
    r = owner.usage.push()
    assert (r.staged, r.sent) == (0, 0)
    assert _sent_events(owner) == []


def test_reconcile_compares_with_stripe(owner: Billing) -> None:
    usage = owner.usage
    usage.track("org_1", "api_calls", 10, "a")
    (d,) = usage.reconcile()
    assert (d.local, d.stripe, d.status) == (10, 0.0, "pending")
    usage.push()
    (d,) = usage.reconcile()
    assert (d.local, d.stripe, d.pending, d.status) == (10, 10.0, 0, "in_sync")
    cust = owner.customers.get(owner_id="org_1")
    owner.stripe.v1.billing.meter_events.create(params={         # someone else reported to the same meter
        "event_name": "api_calls", "payload": {"stripe_customer_id": cust.id, "value": "3"}})
    (d,) = usage.reconcile(owner_id="org_1", meter="api_calls")
    assert (d.local, d.stripe, d.status) == (10, 13.0, "drift")


@pytest.mark.postgres
def test_several_workers_push_each_delta_once(owner: Billing) -> None:
    if owner.engine.dialect.name != "postgresql":
        pytest.skip("multi-worker claims are a PostgreSQL path (SQLite serialises writers)")
    usage = owner.usage
    owners = [f"org_{i}" for i in range(2, 12)]
    for o in owners:
        owner.customers.create(owner_id=o, email=f"{o}@b.co")
    expected = {}
    for round_ in range(3):
        for j, o in enumerate(owners):
            usage.track(o, "api_calls", j + 1, f"{o}-{round_}")
            expected[o] = expected.get(o, 0) + j + 1
        errors: list[BaseException] = []

        def work(errors: list[BaseException] = errors) -> None:
            try:
                for _ in range(3):
                    usage.push(limit=3)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        usage.push()
    for o in owners:
        assert _stripe_total(owner, owner=o) == expected[o]
    idents = [e.identifier for e in _sent_events(owner)]
    assert len(idents) == len(set(idents)) == 30
    assert {(j.status, j.result) for j in owner.jobs.list(queue=QUEUE, limit=1000)} == {("done", "sent")}
