"""Validation of request parameters with Stripe's wording. Unknown parameters are refused, as Stripe does."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from .errors import StripeError, invalid

_MISSING = object()
_INTEGER = "parameter_invalid_integer"      # Stripe's code for a value that is not an integer in range


class Params:
    def __init__(self, raw: builtins.dict[builtins.str, Any], prefix: builtins.str = "") -> None:
        self.raw = raw
        self.prefix = prefix
        self.seen: set[str] = {"expand"}

    def _name(self, key: builtins.str) -> builtins.str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def has(self, key: builtins.str) -> builtins.bool:
        self.seen.add(key)
        return key in self.raw

    def get(self, key: builtins.str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.raw.get(key, default)

    def required(self, key: builtins.str) -> Any:
        self.seen.add(key)
        if key not in self.raw or self.raw[key] == "":
            raise StripeError(f"Missing required param: {self._name(key)}.", param=self._name(key),
                              code="parameter_missing")
        return self.raw[key]

    def str(self, key: builtins.str, *, required: builtins.bool = False,
            choices: Iterable[builtins.str] | None = None,
            max_length: builtins.int = 5000, nullable: builtins.bool = False, default: Any = None) -> Any:
        value = self.required(key) if required else self.get(key, _MISSING)
        if value is _MISSING:
            return default
        if value == "" and nullable:
            return None
        if not isinstance(value, str):
            raise invalid(f"Invalid string: {self._name(key)} must be a string.", self._name(key))
        if len(value) > max_length:
            raise invalid(f"{self._name(key)} must be at most {max_length} characters.", self._name(key))
        if choices is not None and value not in set(choices):
            opts = ", ".join(sorted(choices))
            raise invalid(f"Invalid {self._name(key)}: must be one of {opts}", self._name(key))
        return value

    def int(self, key: builtins.str, *, required: builtins.bool = False, min: builtins.int | None = None,
            max: builtins.int | None = None,
            default: Any = None, nullable: builtins.bool = False) -> Any:
        value = self.required(key) if required else self.get(key, _MISSING)
        if value is _MISSING:
            return default
        if value == "" and nullable:
            return None
        try:
            n = int(value)
            if str(n) != str(value).strip().lstrip("+"):
                raise ValueError
        except (TypeError, ValueError):
            raise invalid(f"Invalid integer: {value}", self._name(key), code=_INTEGER) from None
        if min is not None and n < min:
            raise invalid(f"Invalid {self._name(key)}: must be greater than or equal to {min}",
                          self._name(key), code=_INTEGER)
        if max is not None and n > max:
            raise invalid(f"Invalid {self._name(key)}: must be less than or equal to {max}", self._name(key),
                          code=_INTEGER)
        return n

    def bool(self, key: builtins.str, *, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        if value in ("true", True):
            return True
        if value in ("false", False):
            return False
        raise invalid(f"Invalid boolean: {value}", self._name(key))

    def dict(self, key: builtins.str, *, required: builtins.bool = False, nullable: builtins.bool = False) -> Any:
        value = self.required(key) if required else self.get(key, _MISSING)
        if value is _MISSING:
            return None
        if value == "" and nullable:
            return ""
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {self._name(key)} must be a hash.", self._name(key))
        return value

    def sub(self, key: builtins.str, *, required: builtins.bool = False) -> Params | None:
        value = self.dict(key, required=required)
        return None if value is None else Params(value, self._name(key))

    def list(self, key: builtins.str, *, required: builtins.bool = False) -> Any:
        value = self.required(key) if required else self.get(key, _MISSING)
        if value is _MISSING:
            return None
        if value == "":
            return []
        if isinstance(value, dict) and not value:
            return []
        if not isinstance(value, list):
            raise invalid(f"Invalid array: {self._name(key)} must be an array.", self._name(key))
        return value

    def hashes(self, key: builtins.str) -> builtins.list[Params] | None:
        """An array of hashes (``items``, ``phases``), each as a Params named ``key[i]``."""
        value = self.list(key)
        if value is None:
            return None
        out = []
        for i, entry in enumerate(value):
            name = f"{self._name(key)}[{i}]"
            if not isinstance(entry, dict):
                raise invalid(f"Invalid object: {name} must be a hash.", name)
            out.append(Params(entry, name))
        return out

    def metadata(self, existing: builtins.dict[builtins.str, builtins.str] | None = None,
                 key: builtins.str = "metadata") -> builtins.dict[builtins.str, builtins.str] | None:
        """Stripe's merge semantics: keys are merged, an empty string removes a key, '' resets all."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return None if existing is None else dict(existing)
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid("Invalid metadata: must be a hash of string keys and values.", key)
        out: builtins.dict[builtins.str, builtins.str] = dict(existing or {})
        for k, v in value.items():
            if not isinstance(v, str):
                raise invalid(f"Invalid metadata[{k}]: values must be strings.", f"{key}[{k}]")
            if len(k) > 40:
                raise invalid(f"Metadata keys can have up to 40 characters; '{k}' is longer.", f"{key}[{k}]")
            if len(v) > 500:
                raise invalid(f"Metadata values can have up to 500 characters; {key}[{k}] is longer.",
                              f"{key}[{k}]")
            if v == "":
                out.pop(k, None)
            else:
                out[k] = v
        if len(out) > 50:
            raise invalid("Metadata can have up to 50 keys.", key)
        return out

    def done(self) -> None:
        """Refuse any parameter no handler looked at."""
        for key in self.raw:
            if key not in self.seen:
                raise StripeError(f"Received unknown parameter: {self._name(key)}", param=self._name(key),
                                  code="parameter_unknown")
