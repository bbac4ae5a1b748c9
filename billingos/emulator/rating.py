"""What a price costs, written from Stripe's documentation and sharing no code with ``billingos.pricing``
(the library is checked against this, so they must not agree by construction).

- Decimal amounts (https://stripe.com/docs/billing/subscriptions/decimal-amounts): amounts are in the
  currency's minor unit, ``unit_amount_decimal`` has up to 12 decimal places, and "rounding occurs on the
  line item level": ``0.05 * 30 = 1.5`` is "rounded up to 2 cents". Here: exact rational arithmetic, one
  rounding per line, half away from zero.
- Tiers (https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing): ``volume`` bills the whole
  quantity at the unit amount of the tier the quantity falls in, plus that tier's flat amount;
  ``graduated`` bills each unit at the tier it falls in and sums the tiers, each tier that any unit
  reaches adding its flat amount ("price for the entire tier"). A tier's ``up_to`` is inclusive; the last
  is ``inf``. A quantity of 0 still lands in the first tier, so its flat amount is due.
- Packages (https://docs.stripe.com/billing/subscriptions/usage-based/transform-quantities):
  ``transform_quantity`` divides the quantity by ``divide_by`` and rounds the result ``up`` or ``down``
  before the unit amount applies; not allowed with tiers.
- Prorations (https://docs.stripe.com/billing/subscriptions/prorations): a change at ``t`` inside
  ``[start, end)`` is worth ``(end - t) / (end - start)`` of the period's amount, to the second.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

__all__ = ["billed_quantity", "exact_amount", "price_amount", "prorated", "round_line", "unused_share"]


def _number(value: Any) -> Fraction:
    """A decimal string or an integer as an exact fraction (``Fraction("0.05") == 1/20``)."""
    if isinstance(value, bool | float):
        raise TypeError(f"amounts are integers or decimal strings, not {value!r}")
    return Fraction(str(value).strip())


def _amount(holder: Mapping[str, Any], name: str) -> Fraction:
    """``name_decimal`` when set (it is exact), else the integer ``name``, else nothing."""
    for key in (f"{name}_decimal", name):
        if holder.get(key) is not None:
            return _number(holder[key])
    return Fraction(0)


def round_line(x: Fraction) -> int:
    """One line's amount in whole minor units: nearest, a half away from zero (1.5 -> 2, -1.5 -> -2)."""
    doubled = 2 * abs(x)
    whole = (doubled.numerator // doubled.denominator + 1) // 2
    return -whole if x < 0 else whole


def billed_quantity(price: Mapping[str, Any], quantity: int) -> int:
    """The quantity after ``transform_quantity`` (package pricing)."""
    transform = price.get("transform_quantity")
    if not transform:
        return quantity
    packages, rest = divmod(quantity, int(transform["divide_by"]))
    return packages + 1 if rest and transform["round"] == "up" else packages


def _bound(tier: Mapping[str, Any]) -> float:
    up_to = tier.get("up_to")
    return float("inf") if up_to in (None, "inf") else int(up_to)


def _volume(tiers: list[Mapping[str, Any]], quantity: int) -> Fraction:
    tier = next(t for t in tiers if quantity <= _bound(t))
    return quantity * _amount(tier, "unit_amount") + _amount(tier, "flat_amount")


def _graduated(tiers: list[Mapping[str, Any]], quantity: int) -> Fraction:
    total, floor = Fraction(0), 0
    for index, tier in enumerate(tiers):
        ceiling = _bound(tier)
        units = int(min(quantity, ceiling)) - floor
        if units > 0 or index == 0:
            total += max(units, 0) * _amount(tier, "unit_amount") + _amount(tier, "flat_amount")
        if quantity <= ceiling:
            return total
        floor = int(ceiling)
    raise ValueError("the last tier of a price must be up_to=inf")


def exact_amount(price: Mapping[str, Any], quantity: int) -> Fraction:
    """What ``quantity`` units of ``price`` cost before the line is rounded (minor units)."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise ValueError(f"a quantity is a whole number >= 0, not {quantity!r}")
    if price.get("billing_scheme") == "tiered":
        tiers = price.get("tiers") or []
        if not tiers:
            raise ValueError(f"tiered price {price.get('id')} has no tiers")
        return (_volume if price.get("tiers_mode") == "volume" else _graduated)(tiers, quantity)
    if price.get("unit_amount_decimal") is None and price.get("unit_amount") is None:
        raise ValueError(f"price {price.get('id')} has no unit amount")
    return billed_quantity(price, quantity) * _amount(price, "unit_amount")


def price_amount(price: Mapping[str, Any], quantity: int) -> int:
    """What ``quantity`` units of ``price`` cost on one invoice line, in integer minor units."""
    return round_line(exact_amount(price, quantity))


def unused_share(period: tuple[int, int], at: int) -> Fraction:
    """The share of ``period`` left at ``at`` (0 before a period of no length, clamped to [0, 1])."""
    start, end = period
    if end <= start:
        return Fraction(0)
    return Fraction(end - min(max(at, start), end), end - start)


def prorated(amount: int, period: tuple[int, int], at: int) -> int:
    """``amount`` for the part of ``period`` left at ``at``, as one rounded line."""
    return round_line(amount * unused_share(period, at))
