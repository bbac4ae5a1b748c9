"""receive_many / store_many: the bulk intake stores each event once, answers per delivery (receive_many) or
refuses the whole batch (store_many), and any order of the same events ends in the same state."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, InvalidInputError
from billingos.customers import BillingCustomer
from billingos.jobs import BillingJob
from billingos.webhooks import BillingWebhookEvent, Receipt, WebhookPayloadError, WebhookSignatureError
from tests.webhooks.test_receive import _bad_cases, _remote_customer, _signed, _stored, _stripe_events


def _jobs(billing: Billing) -> int:
    with billing.session_factory() as s:
        return s.scalar(select(func.count()).select_from(BillingJob).where(BillingJob.queue == "webhooks")) or 0


def _customer_events(billing: Billing) -> list[dict[str, Any]]:
    cid = _remote_customer(billing, "org_bulk", "first@b.co")
    billing.stripe.v1.customers.update(cid, params={"email": "second@b.co"})
    billing.stripe.v1.customers.update(cid, params={"name": "Final"})
    events = _stripe_events(billing, "customer.*")
    assert len(events) == 3
    return events


def test_receive_many_stores_each_event_once_and_applies_it(billing: Billing) -> None:
    events = _customer_events(billing)
    deliveries = [_signed(billing, e) for e in events]
    receipts = billing.webhooks.receive_many(deliveries + deliveries[:1])     # one repeated in the batch
    assert [(r.event_id, r.duplicate) for r in receipts if isinstance(r, Receipt)] == \
        [(e["id"], False) for e in events] + [(events[0]["id"], True)]
    again = billing.webhooks.receive_many(deliveries)
    assert [r.duplicate for r in again if isinstance(r, Receipt)] == [True, True, True]
    assert _stored(billing) == 3 and _jobs(billing) == 3
    got = billing.customers.get(owner_id="org_bulk")
    assert (got.email, got.name) == ("second@b.co", "Final")
    assert sorted(e.status for e in billing.webhooks.events()) == ["processed"] * 3


def test_receive_many_answers_each_bad_delivery_and_stores_the_good_ones(billing: Billing) -> None:
    _remote_customer(billing, "org_mix", "m@b.co")
    event = _stripe_events(billing, "customer.created")[0]
    bad = _bad_cases(billing, event)
    good = _signed(billing, event)
    answers = billing.webhooks.receive_many([(body, headers) for _, body, headers in bad] + [good]
                                            + [("not a pair",)])          # type: ignore[list-item]
    assert len(answers) == len(bad) + 2
    for (name, _, _), answer in zip(bad, answers, strict=False):
        assert isinstance(answer, WebhookSignatureError) and answer.status == 400, name
    assert isinstance(answers[-2], Receipt) and answers[-2].event_id == event["id"] and not answers[-2].duplicate
    assert isinstance(answers[-1], WebhookPayloadError) and "pair" in answers[-1].message
    assert _stored(billing) == 1 and _jobs(billing) == 1
    assert billing.customers.get(owner_id="org_mix").email == "m@b.co"


def test_receive_many_with_only_bad_deliveries_writes_nothing(billing: Billing) -> None:
    _remote_customer(billing, "org_none", "n@b.co")
    event = _stripe_events(billing, "customer.created")[0]
    answers = billing.webhooks.receive_many([(b, h) for _, b, h in _bad_cases(billing, event)])
    assert all(isinstance(a, WebhookSignatureError) for a in answers)
    assert _stored(billing) == 0 and _jobs(billing) == 0
    with billing.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BillingCustomer)) == 0
    assert billing.webhooks.receive_many([]) == []


@pytest.mark.parametrize("deliveries", [b"raw", "text", {"a": 1}, 12, None])
def test_receive_many_needs_a_list_of_pairs(billing: Billing, deliveries: Any) -> None:
    with pytest.raises(InvalidInputError, match="deliveries"):
        billing.webhooks.receive_many(deliveries)


def test_store_many_refuses_the_whole_batch_for_one_bad_event(billing: Billing) -> None:
    events = _customer_events(billing)
    broken = {**events[1], "id": "not_an_event_id"}
    with pytest.raises(WebhookPayloadError, match=r"events\[1\]"):
        billing.webhooks.store_many([events[0], broken, events[2]], source="webhook")
    with pytest.raises(WebhookPayloadError, match=r"events\[2\]"):
        billing.webhooks.store_many([events[0], events[1], "x"], source="webhook")   # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="source"):
        billing.webhooks.store_many(events, source="carrier pigeon")
    with pytest.raises(InvalidInputError, match="events"):
        billing.webhooks.store_many(events[0], source="webhook")     # type: ignore[arg-type]
    assert _stored(billing) == 0 and _jobs(billing) == 0


def test_store_many_without_enqueue_leaves_the_jobs_pending(billing: Billing) -> None:
    events = _customer_events(billing)
    receipts = billing.webhooks.store_many(events, source="reconcile", enqueue=False)
    assert [r.duplicate for r in receipts] == [False, False, False]
    assert sorted(e.status for e in billing.webhooks.events()) == ["pending"] * 3
    with billing.session_factory() as s:
        assert set(s.scalars(select(BillingWebhookEvent.source))) == {"reconcile"}
    assert billing.webhooks.process(events[0]["id"]) == "processed"
    assert billing.customers.get(owner_id="org_bulk").name == "Final"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_events_in_any_order_and_batching_end_in_the_same_state(billing: Billing, seed: int) -> None:
    events = _customer_events(billing)
    rng = random.Random(seed)
    order = events + events[:2]          # two delivered twice
    rng.shuffle(order)
    cut = rng.randrange(1, len(order))
    for part in (order[:cut], order[cut:]):
        answers = billing.webhooks.receive_many([_signed(billing, e) for e in part])
        assert all(isinstance(a, Receipt) for a in answers)
    got = billing.customers.get(owner_id="org_bulk")
    assert (got.email, got.name) == ("second@b.co", "Final")
    assert _stored(billing) == 3 and _jobs(billing) == 3
    assert sorted(e.status for e in billing.webhooks.events()) == ["processed"] * 3
