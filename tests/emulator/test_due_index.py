"""The billing cycle's due index (``em.due_index``) runs the same transitions, in the same order, at the same
times, as scanning every subscription and invoice at each step (the index turned off)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from billingos.clock import FrozenClock
from billingos.emulator import Emulator

from .billing_kit import DAY, T0, attach_card, customer, metered_price, price


def _play(seed: int, *, indexed: bool) -> list[tuple[str, int, str, str]]:
    """A randomized business on one emulator: returns every event as (type, created, object kind, status),
    with object ids replaced by their order of appearance (Stripe's ids are random)."""
    clock = FrozenClock(datetime.fromtimestamp(T0, UTC))
    em = Emulator(clock=clock)
    if not indexed:
        em.due_index = None
    client = em.client()
    rng = random.Random(seed)
    monthly, yearly = price(client, 2000), price(client, 20000, "year", name="Pro yearly")
    weekly = price(client, 500, "week", name="Weekly")
    usage = metered_price(client)
    subs: list[Any] = []
    for day in range(0, 120, 2):
        now = T0 + day * DAY
        clock.set(datetime.fromtimestamp(now, UTC))
        em.advance_to(now)
        for _ in range(rng.randint(0, 2)):
            card = rng.choice(["pm_card_visa", "pm_card_visa", "pm_card_chargeCustomerFail", None])
            cust = customer(client, card=card)
            plan = rng.choice([monthly, yearly, weekly])
            items = [{"price": plan.id}] + ([{"price": usage.id}] if plan is monthly and rng.random() < 0.5 else [])
            params: dict[str, Any] = {"customer": cust.id, "items": items, "payment_behavior": "allow_incomplete"}
            if rng.random() < 0.4:
                params["trial_period_days"] = rng.choice([3, 7, 14])
            if card is None:
                params["collection_method"] = "send_invoice"
                params["days_until_due"] = rng.choice([3, 10])
            subs.append(client.v1.subscriptions.create(params=params))
        for sub in rng.sample(subs, min(len(subs), 2)):
            current = client.v1.subscriptions.retrieve(sub.id)
            if current.status in ("canceled", "incomplete_expired", "incomplete"):
                continue
            move = rng.random()
            if move < 0.15:
                client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
            elif move < 0.25:
                client.v1.subscriptions.cancel(sub.id)
            elif move < 0.4 and current.collection_method == "charge_automatically":
                attach_card(client, current.customer, rng.choice(["pm_card_visa", "pm_card_chargeCustomerFail"]))
            elif move < 0.5:
                client.v1.subscriptions.update(sub.id, params={"pause_collection": {
                    "behavior": "void", "resumes_at": now + rng.randint(2, 20) * DAY}})
            elif move < 0.6:
                client.v1.subscriptions.update(sub.id, params={"cancel_at": now + rng.randint(1, 40) * DAY})
    clock.set(datetime.fromtimestamp(T0 + 400 * DAY, UTC))
    em.advance_to(T0 + 400 * DAY)
    names: dict[str, str] = {}
    out = []
    for e in em.store.all("event"):
        obj = e["data"]["object"]
        oid = names.setdefault(str(obj.get("id")), f"#{len(names)}")
        out.append((e["type"], e["created"], f"{obj.get('object')}{oid}", str(obj.get("status"))))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_index_runs_what_a_full_scan_runs(seed: int) -> None:
    scanned = _play(seed, indexed=False)
    indexed = _play(seed, indexed=True)
    assert len(scanned) > 300            # a real workload: renewals, retries, trials, cancellations
    kinds = {t for t, *_ in scanned}
    assert {"invoice.payment_failed", "customer.subscription.deleted", "customer.subscription.trial_will_end",
            "invoice.upcoming"} <= kinds
    assert indexed == scanned


def test_a_loaded_state_and_new_settings_start_the_index_over(tmp_path) -> None:
    clock = FrozenClock(datetime.fromtimestamp(T0, UTC))
    path = tmp_path / "state.json"
    em = Emulator(clock=clock, state_path=path)
    client = em.client()
    cust = customer(client)
    client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price(client).id}]})
    em.advance_to(T0 + DAY)                 # the index now knows the subscription
    again = Emulator(clock=clock, state_path=path)
    clock.set(datetime.fromtimestamp(T0 + 40 * DAY, UTC))
    assert again.advance_to(T0 + 40 * DAY) >= 2          # upcoming and renewal, from the loaded state
    invoices = again.store.all("invoice")
    assert [i["billing_reason"] for i in invoices] == ["subscription_create", "subscription_cycle"]
