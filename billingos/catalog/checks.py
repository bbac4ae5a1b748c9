"""Value checks shared by the catalog declarations (amounts, tiers, limits, metadata)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator

MAX_UNIT_AMOUNT = 99_999_999  # Stripe's ceiling for an integer unit amount
MAX_DECIMAL_PLACES = 12  # Stripe's precision for *_decimal amounts


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a float; write the amount as a string (e.g. '{value}') or an integer, "
            "floats are not exact"
        )
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    return value


def _check_decimal(value: Decimal | None, name: str) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite amount >= 0, got {value}")
    exp = value.normalize().as_tuple().exponent
    if isinstance(exp, int) and -exp > MAX_DECIMAL_PLACES:
        raise ValueError(
            f"{name} {value} has more than {MAX_DECIMAL_PLACES} decimal places (Stripe's precision)"
        )
    if value > MAX_UNIT_AMOUNT:
        raise ValueError(f"{name} {value} is above Stripe's maximum of {MAX_UNIT_AMOUNT}")
    return value


def _check_amount(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    if value > MAX_UNIT_AMOUNT:
        raise ValueError(f"{name} {value} is above Stripe's maximum of {MAX_UNIT_AMOUNT} minor units")
    return value


def _whole(value: Any) -> Any:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a float; give a whole number (amounts are integer minor units, "
            "use unit_amount_decimal for fractions of a cent)"
        )
    raise ValueError(f"expected a whole number, got {value!r}")


Int = Annotated[int, BeforeValidator(_whole)]
OptInt = Annotated[int | None, BeforeValidator(_whole)]
OptAmount = Annotated[Decimal | None, BeforeValidator(_no_float)]


def _up_to(value: Any) -> Any:
    if value == "inf" or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"up_to must be a positive integer or 'inf', got {value!r}")


def _limit(value: Any) -> Any:
    if value is None or value == "unlimited" or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"limit must be a whole number or 'unlimited', got {value!r}")


def _unique(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}: each must be unique in the catalog")
        seen.add(v)


def _check_metadata(v: dict[str, str], *, room: int = 0) -> dict[str, str]:
    if len(v) > 50 - room:
        raise ValueError(
            f"metadata may have at most {50 - room} keys here (Stripe allows 50; billingos uses {room})"
        )
    for k, val in v.items():
        if not k or len(k) > 40 or "[" in k or "]" in k:
            raise ValueError(f"metadata key {k!r} must be 1-40 characters without brackets")
        if len(val) > 500:
            raise ValueError(f"metadata[{k}] is longer than 500 characters")
    return v
