"""Input checks for entitlement calls: each raises InvalidInputError before anything is written."""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidInputError

__all__ = ["KEY_PATTERN", "MAX_AMOUNT", "amount_of", "feature_key", "idempotency_key_of", "valid_owner"]

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}")
MAX_AMOUNT = 10**12


def feature_key(value: Any, param: str = "key") -> str:
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
        raise InvalidInputError(f"{param} must be a feature lookup_key (1-80 letters, digits, '_', '-', '.', "
                                f"':'), got {value!r}.", param=param)
    return value


def amount_of(value: Any, param: str = "amount", *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_AMOUNT:
        raise InvalidInputError(f"{param} must be a whole number from {minimum} to {MAX_AMOUNT:,}, got {value!r}.",
                                param=param)
    return value


def idempotency_key_of(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 255 or value != value.strip() \
            or not value.isprintable():
        raise InvalidInputError("idempotency_key must be a printable string of 1-255 characters without "
                                f"surrounding spaces (e.g. the request id), got {value!r}.", param="idempotency_key")
    return value


def valid_owner(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 255 and value == value.strip() and bool(value)
