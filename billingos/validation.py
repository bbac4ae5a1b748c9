"""Input checks shared by every service. Each raises InvalidInputError before anything is written."""

from __future__ import annotations

import re
from typing import Any

from .errors import InvalidInputError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STRIPE_ID = re.compile(r"^[a-z]+_[A-Za-z0-9_]+$")
_LOOKUP_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$")


def owner_id(value: Any, param: str = "owner_id") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255 or value != value.strip():
        raise InvalidInputError(
            f"{param} must be a non-empty string of at most 255 characters without surrounding spaces "
            f"(your user or organisation id), got {value!r}.", param=param)
    return value


def email(value: Any, param: str = "email", *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 512 or not _EMAIL.match(value):
        raise InvalidInputError(f"{param} must be an email address like 'a@example.com', got {value!r}.",
                                param=param)
    return value


def text(value: Any, param: str, *, max_length: int = 256, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_length:
        raise InvalidInputError(f"{param} must be a string of at most {max_length} characters, got {value!r}.",
                                param=param)
    return value


def metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """Stripe's limits: 50 keys, keys up to 40 characters, values up to 500, all strings."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"{param} must be a dict of strings, got {type(value).__name__}.", param=param)
    if len(value) > 50:
        raise InvalidInputError(f"{param} may have at most 50 keys (Stripe's limit).", param=param)
    for k, v in value.items():
        if not isinstance(k, str) or not k or len(k) > 40 or "[" in k or "]" in k:
            raise InvalidInputError(f"{param} keys must be 1-40 characters without brackets, got {k!r}.",
                                    param=param)
        if not isinstance(v, str) or len(v) > 500:
            raise InvalidInputError(f"{param}[{k}] must be a string of at most 500 characters.", param=param)
    return dict(value)


def stripe_id(value: Any, prefix: str, param: str) -> str:
    if not isinstance(value, str) or not _STRIPE_ID.match(value) or not value.startswith(prefix + "_"):
        raise InvalidInputError(f"{param} must be a Stripe id starting with '{prefix}_', got {value!r}.",
                                param=param)
    return value


def lookup_key(value: Any, param: str = "lookup_key") -> str:
    if not isinstance(value, str) or not _LOOKUP_KEY.match(value):
        raise InvalidInputError(
            f"{param} must be 1-200 characters of letters, digits, '_', '-', '.' or ':', got {value!r}.",
            param=param)
    return value


def limit(value: Any, param: str = "limit", *, maximum: int = 100) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInputError(f"{param} must be an integer from 1 to {maximum}, got {value!r}.", param=param)
    return value
