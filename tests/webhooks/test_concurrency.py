"""Two workers applying the same events at once leave one row and fire each signal once."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, signals
from billingos.customers import BillingCustomer
from billingos.emulator import signature_header
from tests.conftest import WEBHOOK_SECRET


def _store_deferred(billing: Billing, events: list[dict[str, Any]]) -> list[str]:
    """Receive every event without processing it; return the queued event ids for the workers."""
    billing.tasks.deferred = True
    for e in events:
        body = json.dumps(e, default=str).encode()
        billing.webhooks.receive(body, {"Stripe-Signature": signature_header(body, [WEBHOOK_SECRET],
                                 int(billing.now().timestamp())), "Content-Type": "application/json"})
    queued = [args[0] for _, args in billing.tasks.queued]
    billing.tasks.queued.clear()
    return queued


@pytest.mark.parametrize("round_", range(3))
def test_two_workers_same_events(billing: Billing, round_: int) -> None:
    if billing.engine.dialect.name != "postgresql":
        pytest.skip("row-lock concurrency is a PostgreSQL property; SQLite has a single writer")
    key = billing.config.owner_metadata_key
    ids = []
    for i in range(5):
        c = billing.stripe.v1.customers.create(params={"email": f"c{i}@b.co", "metadata": {key: f"org_{i}"}})
        billing.stripe.v1.customers.update(c.id, params={"name": f"Name {i}"})
        ids.append(c.id)
    events = [e.to_dict() for e in billing.stripe.v1.events.list(params={"limit": 100}).data]
    queued = _store_deferred(billing, events)
    created: list[str] = []
    lock = threading.Lock()

    def on_created(sender: Any, customer: Any, owner_id: str) -> None:
        with lock:
            created.append(owner_id)

    signals.customer_created.connect(on_created)
    barrier = threading.Barrier(2)

    def worker(seed: int) -> None:
        order = list(queued)
        random.Random(seed).shuffle(order)
        barrier.wait()
        for event_id in order:
            billing.webhooks.process(event_id)

    try:
        threads = [threading.Thread(target=worker, args=(round_ * 10 + n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        signals.customer_created.disconnect(on_created)
    with billing.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BillingCustomer)) == 5
        rows = {r.stripe_id: r.name for r in s.scalars(select(BillingCustomer))}
    assert rows == {cid: f"Name {i}" for i, cid in enumerate(ids)}
    assert sorted(created) == [f"org_{i}" for i in range(5)]
    assert {e.status for e in billing.webhooks.events()} == {"processed"}


def test_two_workers_apply_a_subscription_lifecycle_once(billing: Billing) -> None:
    """Create, change quantity, schedule a cancel: every event processed by two racing workers."""
    if billing.engine.dialect.name != "postgresql":
        pytest.skip("row-lock concurrency is a PostgreSQL property; SQLite has a single writer")
    sc = billing.stripe.v1
    emitted: list[dict[str, Any]] = []
    billing.emulator.hooks.event.append(emitted.append)
    prod = sc.products.create(params={"name": "P"})
    price = sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 1500,
                                     "recurring": {"interval": "month"}})
    key = billing.config.owner_metadata_key
    cust = sc.customers.create(params={"email": "s@b.co", "metadata": {key: "org_sub"}})
    pm = sc.payment_methods.attach("pm_card_visa", params={"customer": cust.id})
    sc.customers.update(cust.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    sub = sc.subscriptions.create(params={"customer": cust.id, "items": [{"price": price.id}]})
    sc.subscriptions.update(sub.id, params={"items": [{"id": sub["items"]["data"][0].id, "quantity": 4}]})
    sc.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    queued = _store_deferred(billing, emitted)
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def counter(name: str) -> Any:
        def receive(sender: Any, **kw: Any) -> None:
            with lock:
                counts[name] = counts.get(name, 0) + 1
        return receive

    receivers = {name: counter(name) for name in ("subscription_created", "invoice_paid", "customer_created")}
    for name, fn in receivers.items():
        getattr(signals, name).connect(fn)
    barrier = threading.Barrier(2)

    def worker(seed: int) -> None:
        order = list(queued)
        random.Random(seed).shuffle(order)
        barrier.wait()
        for event_id in order:
            billing.webhooks.process(event_id)

    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for name, fn in receivers.items():
            getattr(signals, name).disconnect(fn)
    got = billing.subscriptions.get(sub.id)
    assert (got.status, got.items[0].quantity, got.cancel_at_period_end) == ("active", 4, True)
    assert len(billing.subscriptions.list("org_sub")) == 1
    assert counts == {"subscription_created": 1, "invoice_paid": 1, "customer_created": 1}
    assert {e.status for e in billing.webhooks.events(limit=500)} <= {"processed", "ignored"}
