"""Rating a price for a quantity, with Stripe's semantics: per-unit, package, graduated and volume.

Everything is exact ``Decimal`` arithmetic on minor units. A line is rounded once, half up, at the end
(``round_half_up``), as Stripe rounds a line amount computed from ``unit_amount_decimal``.

A price is the Stripe shape (a dict or any mapping): ``billing_scheme``, ``unit_amount_decimal`` (or
``unit_amount``), ``transform_quantity`` (package pricing), ``tiers_mode`` and ``tiers`` (each with
``up_to`` — an integer, or ``None``/``"inf"`` for the last tier — ``unit_amount[_decimal]`` and
``flat_amount[_decimal]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "MAX_QUANTITY",
    "Rated",
    "TierLine",
    "amount_for",
    "graduated",
    "package_units",
    "per_unit",
    "rate",
    "round_half_up",
    "to_decimal",
    "volume",
]

#: The largest quantity billingos rates (Stripe's quantities are 64-bit; an invoice line is at most ~10^12).
MAX_QUANTITY = 10**15


@dataclass(frozen=True)
class TierLine:
    """One piece of a tiered (or per-unit) amount: ``units`` at ``unit_amount`` plus ``flat_amount``."""

    tier: int                    # index of the tier (0 for per-unit prices)
    up_to: int | None
    units: int
    unit_amount: Decimal
    flat_amount: Decimal

    @property
    def exact(self) -> Decimal:
        """The exact amount of this piece in minor units (not rounded)."""
        return self.unit_amount * self.units + self.flat_amount


@dataclass(frozen=True)
class Rated:
    """What a quantity of a price costs: ``amount`` (integer minor units) and the pieces it came from."""

    quantity: int
    billed_units: int            # after ``transform_quantity`` (package pricing)
    amount: int
    exact: Decimal
    lines: tuple[TierLine, ...]


def round_half_up(value: Decimal | int) -> int:
    """Round to an integer number of minor units, half away from zero (0.5 -> 1, -0.5 -> -1)."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_decimal(value: Any, what: str = "amount") -> Decimal:
    """A finite Decimal from an int, a Decimal or a decimal string. Floats are refused (money is exact)."""
    if isinstance(value, (bool, float)):
        raise ValueError(f"{what} must be an int, a Decimal or a decimal string, not {type(value).__name__}")
    try:
        d = Decimal(value) if isinstance(value, (int, Decimal)) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} {value!r} is not a decimal number") from None
    if not d.is_finite():
        raise ValueError(f"{what} {value!r} is not finite")
    return d


def _check_quantity(quantity: Any) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValueError(f"quantity must be an integer, got {quantity!r}")
    if quantity < 0:
        raise ValueError("quantity must be >= 0")
    if quantity > MAX_QUANTITY:
        raise ValueError(f"quantity {quantity} is larger than {MAX_QUANTITY}")
    return quantity


def _part(tier: Mapping[str, Any], key: str) -> Decimal:
    dec = tier.get(f"{key}_decimal")
    if dec is not None:
        return to_decimal(dec, key)
    raw = tier.get(key)
    return to_decimal(raw, key) if raw is not None else Decimal(0)


def _up_to(tier: Mapping[str, Any]) -> int | None:
    up = tier.get("up_to")
    return None if up in (None, "inf") else int(up)


def package_units(quantity: int, transform: Mapping[str, Any] | None) -> int:
    """Package pricing (``transform_quantity``): ``divide_by`` units make a package, rounded up or down."""
    if not transform:
        return quantity
    divide_by = int(transform["divide_by"])
    if divide_by < 1:
        raise ValueError("transform_quantity.divide_by must be >= 1")
    whole, rest = divmod(quantity, divide_by)
    return whole + (1 if rest and transform.get("round") == "up" else 0)


def per_unit(unit_amount: Any, quantity: int) -> Rated:
    """``quantity`` × ``unit_amount`` (a Decimal number of minor units, sub-cent allowed)."""
    q = _check_quantity(quantity)
    line = TierLine(0, None, q, to_decimal(unit_amount, "unit_amount"), Decimal(0))
    return Rated(q, q, round_half_up(line.exact), line.exact, (line,))


def graduated(tiers: list[Mapping[str, Any]], quantity: int) -> Rated:
    """Each unit at the rate of the tier it falls in; a tier's flat fee is due once any unit reaches it.

    The first tier's flat fee is due even at zero quantity (a base fee), as Stripe bills it."""
    q = _check_quantity(quantity)
    lines: list[TierLine] = []
    lower = 0
    for i, tier in enumerate(tiers):
        upper = _up_to(tier)
        units = (q if upper is None else min(q, upper)) - lower
        if units > 0 or i == 0:
            lines.append(TierLine(i, upper, max(units, 0), _part(tier, "unit_amount"),
                                  _part(tier, "flat_amount")))
        if upper is None or q <= upper:
            break
        lower = upper
    exact = sum((line.exact for line in lines), Decimal(0))
    return Rated(q, q, round_half_up(exact), exact, tuple(lines))


def volume(tiers: list[Mapping[str, Any]], quantity: int) -> Rated:
    """The whole quantity at the rate of the tier the total lands in, plus that tier's flat fee."""
    q = _check_quantity(quantity)
    for i, tier in enumerate(tiers):
        upper = _up_to(tier)
        if upper is None or q <= upper:
            line = TierLine(i, upper, q, _part(tier, "unit_amount"), _part(tier, "flat_amount"))
            return Rated(q, q, round_half_up(line.exact), line.exact, (line,))
    raise ValueError("the last tier must have up_to = inf")


def rate(price: Mapping[str, Any], quantity: int) -> Rated:
    """Rate ``quantity`` units of a Stripe price. Raises ValueError on a price it cannot rate."""
    q = _check_quantity(quantity)
    if price.get("billing_scheme") == "tiered":
        tiers = price.get("tiers")
        if not tiers:
            raise ValueError(f"price {price.get('id')} is tiered but has no tiers (expand 'tiers')")
        mode = price.get("tiers_mode")
        if mode == "volume":
            return volume(tiers, q)
        if mode == "graduated":
            return graduated(tiers, q)
        raise ValueError(f"unknown tiers_mode {mode!r}")
    unit = price.get("unit_amount_decimal")
    if unit is None:
        unit = price.get("unit_amount")
    if unit is None:
        raise ValueError(f"price {price.get('id')} has no unit amount (custom_unit_amount?)")
    billed = package_units(q, price.get("transform_quantity"))
    r = per_unit(unit, billed)
    return Rated(q, billed, r.amount, r.exact, r.lines)


def amount_for(price: Mapping[str, Any], quantity: int) -> int:
    """What ``quantity`` units of ``price`` cost, in integer minor units."""
    return rate(price, quantity).amount
