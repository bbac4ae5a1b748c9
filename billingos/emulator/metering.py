"""Metered usage: the meter's aggregation (``sum``, ``count``, ``last``) of a customer's meter events over a
period, and the quantity a metered subscription item is billed for at renewal."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Emulator


def aggregate(em: Emulator, meter: dict[str, Any], customer: str, start: int, end: int) -> Decimal:
    """The meter's formula over the customer's events with ``start <= timestamp < end``."""
    rows = [e for e in em.state.meter_events if e.meter == meter["id"] and e.customer == customer
            and not e.canceled and start <= e.timestamp < end]
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return Decimal(len(rows))
    if formula == "last":
        if not rows:
            return Decimal(0)
        latest = max(range(len(rows)), key=lambda i: (rows[i].timestamp, i))
        return Decimal(rows[latest].value)
    return sum((Decimal(e.value) for e in rows), Decimal(0))


def usage_quantity(em: Emulator, item: dict[str, Any], start: int, end: int) -> int:
    """The usage of a metered subscription item's meter over [start, end)."""
    price = item.get("price") or {}
    meter_id = (price.get("recurring") or {}).get("meter")
    meter = em.store.find(meter_id) if isinstance(meter_id, str) else None
    sub = em.store.find(item.get("subscription") or "")
    if meter is None or sub is None:
        return 0
    customer = sub["customer"] if isinstance(sub["customer"], str) else sub["customer"]["id"]
    value = aggregate(em, meter, customer, start, end)
    return max(0, int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
