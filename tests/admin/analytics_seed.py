"""A year of SaaS history for the analytics pages, played through the Stripe emulator and its clock with
webhooks delivered as they happen: monthly sign-ups on three yearly plans (few renewals, so it is quick),
one customer paying monthly in euros (with a dated rate table), seat expansions, downgrades, cancellations
now and at the period end, a reactivation, and a trial that converts. It starts on 3 Jan 2025 and
ends on 20 Jan 2026 (the clock is left there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from billingos import Billing

START = datetime(2025, 1, 3, 10, tzinfo=UTC)
END = datetime(2026, 1, 20, 10, tzinfo=UTC)


def seed(billing: Billing) -> dict[str, int]:
    """Play the year; returns facts read from Stripe's (the emulator's) own objects at the end, for an
    oracle that shares nothing with billingos.analytics: ``mrr`` (cents, euros at 1.20) and ``paying``."""
    assert billing.clock.now() == START, billing.clock.now()
    sc = billing.stripe.v1
    billing.testing.connect()
    prod = sc.products.create(params={"name": "Plans"})
    price = {key: sc.prices.create(params={"product": prod.id, "currency": cur, "unit_amount": amount,
                                           "recurring": {"interval": interval}}).id
             for key, cur, amount, interval in (("basic", "usd", 24000, "year"), ("pro", "usd", 108000, "year"),
                                                ("team", "usd", 240000, "year"), ("euro", "eur", 5000, "month"))}
    billing.analytics.set_rate("eur", Decimal("1.10"), on=date(2024, 12, 1))
    billing.analytics.set_rate("eur", Decimal("1.20"), on=date(2025, 7, 1))
    people: dict[str, str] = {}
    subs: dict[str, str] = {}

    def customer(name: str) -> str:
        cus = sc.customers.create(params={"email": f"{name}@example.com", "name": name.title(),
                                          "metadata": {"billingos_owner_id": f"org_{name}"}}).id
        pm = sc.payment_methods.attach("pm_card_visa", params={"customer": cus})
        sc.customers.update(cus, params={"invoice_settings": {"default_payment_method": pm.id}})
        people[name] = cus
        return cus

    def join(name: str, plan: str, quantity: int = 1, **extra: Any) -> None:
        subs[name] = sc.subscriptions.create(params={"customer": customer(name), "items": [
            {"price": price[plan], "quantity": quantity}], **extra}).id

    def seats(name: str, quantity: int) -> None:
        sub = sc.subscriptions.retrieve(subs[name])
        sc.subscriptions.update(subs[name], params={"items": [{"id": sub["items"]["data"][0]["id"],
                                                               "quantity": quantity}]})

    def plan(name: str, to: str) -> None:
        sub = sc.subscriptions.retrieve(subs[name])
        sc.subscriptions.update(subs[name], params={"items": [{"id": sub["items"]["data"][0]["id"],
                                                               "price": price[to]}], "proration_behavior": "none"})

    def leave(name: str) -> None:
        sc.subscriptions.cancel(subs[name])

    def back(name: str, plan_key: str) -> None:
        subs[name] = sc.subscriptions.create(params={"customer": people[name], "items": [
            {"price": price[plan_key], "quantity": 1}]}).id

    month = 0
    names = iter(f"c{n:02d}" for n in range(100))
    plan_of = ("basic", "basic", "pro", "basic", "pro", "team")
    script: dict[int, list[Callable[[], None]]] = {
        1: [lambda: seats("c00", 3), lambda: join("eve", "euro", 2)],
        2: [lambda: plan("c02", "basic")],
        3: [lambda: leave("c01"), lambda: join("tina", "pro", 1, trial_period_days=14)],
        4: [lambda: seats("c03", 4)],
        5: [lambda: leave("c04"), lambda: seats("c00", 2)],
        6: [lambda: sc.subscriptions.update(subs["c06"], params={"cancel_at_period_end": True})],
        7: [lambda: seats("eve", 3)],
        8: [lambda: back("c01", "pro")],
        9: [lambda: leave("c09"), lambda: plan("c10", "pro")],
        10: [lambda: seats("c12", 5)],
        11: [lambda: leave("c13")],
    }
    while True:
        at = START + timedelta(days=30 * month)
        if at > END:
            break
        _move_to(billing, at)
        for n in range(2 + month % 3):          # two to four sign-ups a month
            join(next(names), plan_of[(month + n) % len(plan_of)], 1 + (month + n) % 2)
        for step in script.get(month, []):
            step()
        billing.testing.drain()
        month += 1
    _move_to(billing, END)
    return _stripe_facts(billing)


def _stripe_facts(billing: Billing) -> dict[str, int]:
    """MRR straight from the emulator's subscriptions: active ones, unit amount × quantity, a year as 1/12."""
    total, paying = Decimal(0), set()
    for sub in billing.stripe.v1.subscriptions.list(params={"status": "active", "limit": 100}).auto_paging_iter():
        for item in sub["items"]["data"]:
            p = item["price"]
            monthly = Decimal(p["unit_amount"] * item["quantity"])
            if p["recurring"]["interval"] == "year":
                monthly /= 12
            total += monthly * (Decimal("1.20") if p["currency"] == "eur" else 1)
            paying.add(sub["customer"])
    return {"mrr": int(total.quantize(Decimal(1))), "paying": len(paying)}


def _move_to(billing: Billing, at: datetime) -> None:
    clock = billing.clock
    assert billing.emulator is not None
    clock.set(at)       # type: ignore[attr-defined]
    billing.emulator.advance_to(at)
    billing.testing.drain()
