"""The ledger writer on its own: late evidence, duplicates and the write path meeting its webhook."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billingos import Billing, Money
from billingos.analytics.ledger import Evidence

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _sub(amount: int, status: str = "active", quantity: int = 1) -> dict[str, Any]:
    return {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status, "currency": "usd",
            "items": {"data": [{"quantity": quantity, "price": {"id": f"price_{amount}", "unit_amount": amount,
                                                              "recurring": {"interval": "month"}}}]}}


def _event(n: int, obj: dict[str, Any], kind: str = "updated") -> Evidence:
    event = {"id": f"evt_{n}", "type": f"customer.subscription.{kind}", "created": int((T0 + timedelta(days=n))
                                                                                       .timestamp())}
    return Evidence(obj, T0 + timedelta(days=n), event=event, source="event")


HISTORY = [(0, _sub(1000), "created"), (3, _sub(2000), "updated"), (5, _sub(2000, quantity=3), "updated"),
           (9, _sub(2000, "past_due", 3), "updated"), (12, _sub(2000, "canceled", 3), "deleted")]
LEVELS = {0: 1000, 3: 2000, 5: 6000, 9: 6000, 12: 0}


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(HISTORY))))[::17])
def test_any_arrival_order_and_duplicates_give_the_same_history(engine: Any, order: tuple[int, ...]) -> None:
    billing = Billing(engine=engine, stripe_emulator=True)
    for i in [*order, order[0], order[-1]]:                       # and two duplicates
        day, obj, kind = HISTORY[i]
        with billing.transaction() as s:
            billing.analytics.writer.post(s, _event(day, obj, kind), owner_id=None, now=T0)
    for day, level in LEVELS.items():
        at = T0 + timedelta(days=day, hours=1)
        assert billing.analytics.mrr(at=at) == Money(level, "usd"), (order, day)
    real = [e for e in billing.analytics.ledger() if e.source != "correction"]
    if list(order) == sorted(order):       # in order: one row per change, with its cause
        assert [e.cause for e in real] == ["new", "upgrade", "quantity", "past_due_entered", "canceled"]
    assert billing.analytics.mrr(at=T0 - timedelta(seconds=1)) == Money(0, "usd")


def test_write_path_then_its_webhook_posts_once(billing: Billing) -> None:
    with billing.transaction() as s:
        billing.analytics.writer.post(s, Evidence(_sub(1000), T0), owner_id="org_1", now=T0)
        billing.analytics.writer.post(s, _event(0, _sub(1000), "created"), owner_id="org_1", now=T0)
        billing.analytics.writer.post(s, Evidence(_sub(1000), T0 + timedelta(seconds=5)), owner_id="org_1", now=T0)
    [row] = billing.analytics.ledger()
    assert (row.cause, row.mrr_after, row.source, row.owner_id) == ("new", Money(1000, "usd"), "sync", "org_1")
    assert billing.analytics.ledger(start=T0 + timedelta(seconds=1), end=T0 + timedelta(days=1)) == []
