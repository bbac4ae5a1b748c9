"""Helpers for the billing-engine tests: catalog, customers with cards, time, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billingos.emulator import Emulator

T0 = int(datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp())   # the conftest clock's start
DAY = 86400


def price(client, amount: int = 2000, interval: str = "month", name: str = "Pro", **extra: Any):
    prod = client.v1.products.create(params={"name": name})
    recurring = {"interval": interval, **extra.pop("recurring", {})}
    return client.v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": amount,
                                           "recurring": recurring, **extra})


def metered_price(client, unit_amount: int = 10, name: str = "API calls"):
    meter = client.v1.billing.meters.create(params={"display_name": name, "event_name": name.replace(" ", "_"),
                                                    "default_aggregation": {"formula": "sum"}})
    prod = client.v1.products.create(params={"name": name})
    return client.v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": unit_amount,
                                           "recurring": {"interval": "month", "usage_type": "metered",
                                                         "meter": meter.id}})


def customer(client, card: str | None = "pm_card_visa", **extra: Any):
    """A customer; with ``card`` attached and made the invoice default payment method."""
    params = dict(extra)
    if card:
        params["payment_method"] = card
    cust = client.v1.customers.create(params=params)
    if card:
        pm = client.v1.payment_methods.list(params={"customer": cust.id}).data[0]
        cust = client.v1.customers.update(cust.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    return cust


def attach_card(client, cust_id: str, card: str = "pm_card_visa") -> str:
    pm = client.v1.payment_methods.attach(card, params={"customer": cust_id})
    client.v1.customers.update(cust_id, params={"invoice_settings": {"default_payment_method": pm.id}})
    return pm.id


def advance(emulator: Emulator, clock, **delta: float) -> int:
    """Move the emulator's FrozenClock and run the billing cycle up to the new time."""
    target = clock.now() + timedelta(**delta)
    emulator.advance_to(int(target.timestamp()))
    if clock.now() < target:
        clock.set(target)
    return int(target.timestamp())


def event_types(emulator: Emulator, since: int = 0, prefix: tuple[str, ...] = ()) -> list[str]:
    """Event types in the order they were emitted (from the store: the Events API keeps only 30 days)."""
    events = emulator.store.all("event")[since:]
    return [e["type"] for e in events if not prefix or e["type"].startswith(prefix)]


def mark(emulator: Emulator) -> int:
    return len(emulator.store.all("event"))


def events_of(emulator: Emulator, type_: str, since: int = 0) -> list[dict[str, Any]]:
    return [e for e in emulator.store.all("event")[since:] if e["type"] == type_]
