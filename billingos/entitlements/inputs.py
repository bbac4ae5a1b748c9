"""Input checks for entitlement calls: each raises InvalidInputError before anything is written."""

from __future__ import annotations

import re
from typing import Any

from .. import validation
from ..errors import InvalidInputError

__all__ = ["KEY_PATTERN", "MAX_AMOUNT", "amount_of", "feature_key", "idempotency_key_of",
           "valid_owner"]

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}")
MAX_AMOUNT = 10**12


def feature_key(value: Any, param: str = "key") -> str:
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
        raise InvalidInputError(f"{param} must be a feature lookup_key (1-80 letters, digits, '_', '-', '.', "
                                f"':'), got {validation.echo(value)}.", param=param)
    return value


def amount_of(value: Any, param: str = "amount", *, minimum: int = 1) -> int:
    return validation.integer(value, param, minimum=minimum, maximum=MAX_AMOUNT)


def idempotency_key_of(value: Any) -> str:
    return validation.idempotency_key(value)


def valid_owner(value: Any) -> bool:
    return validation.is_owner_id(value)

