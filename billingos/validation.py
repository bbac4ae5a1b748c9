"""Input checks shared by every public function. Each raises InvalidInputError naming the parameter and the
rule that failed, before anything is written; messages echo at most a short prefix of the value.

The rules (RELIABILITY.md, "Bad input"): strings are ``str`` (not bytes), non-empty, without surrounding
whitespace or control characters (a trailing newline included: patterns are matched with ``fullmatch``),
lone surrogates or NUL (PostgreSQL refuses it); numbers are ``int`` (not bool, float or NaN) within a
range; booleans are ``bool``; enum values are members; keys are visible ASCII.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .errors import InvalidInputError

__all__ = [
    "InvalidInputError", "aware_datetime", "boolean", "callable_", "choice", "echo", "email", "idempotency_key",
    "integer", "is_owner_id", "json_object", "keys", "limit", "lookup_key", "metadata", "meter_name",
    "optional_boolean", "owner_id", "owner_meter_pairs", "seconds", "stripe_id", "stripe_object", "text",
    "timedelta_", "url",
]

ECHO = 40                                   # characters of a bad value a message repeats
JSON_INT = 2**63                            # the widest integer a JSON consumer (or Stripe) is expected to hold
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_STRIPE_ID = re.compile(r"[a-z]+_[A-Za-z0-9_]{1,250}")
_LOOKUP_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}")
_METER = re.compile(r"[A-Za-z0-9_\-.:]{1,100}")
_KEY = re.compile(r"[\x21-\x7e]{1,255}")   # visible ASCII: no spaces, no control characters
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_URL = re.compile(r"https?://[\x21-\x7e]{1,2040}")


def echo(value: Any) -> str:
    """A short, safe rendering of a bad value for a message: its repr cut to a prefix, or its type."""
    if isinstance(value, str | bytes):
        shown = repr(value[:ECHO])
        return shown + (f"... ({len(value):,} characters)" if len(value) > ECHO else "")
    if value is None or isinstance(value, bool | int | float):
        shown = repr(value)
        return shown if len(shown) <= ECHO else shown[:ECHO] + "..."
    return f"a {type(value).__name__}"


def _fail(param: str, rule: str, value: Any) -> InvalidInputError:
    return InvalidInputError(f"{param} must be {rule}, got {echo(value)}.", param=param)


def _unicode_ok(value: str) -> bool:
    """No lone surrogates (they cannot be encoded, so no database or HTTP client can take them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(value: Any, *, max_length: int, multiline: bool = False) -> bool:
    """A non-empty str of at most ``max_length`` characters, without surrounding whitespace, control
    characters (``multiline`` allows inner newlines and tabs), NUL or lone surrogates."""
    if not isinstance(value, str) or not 0 < len(value) <= max_length or value != value.strip():
        return False
    inner = value.replace("\n", "").replace("\t", "") if multiline else value
    return _CONTROL.search(inner) is None and _unicode_ok(value)


def is_owner_id(value: Any) -> bool:
    """Whether ``value`` is a valid owner id (for the feature checks, which answer instead of raising)."""
    return _clean(value, max_length=255) and value.isprintable()


def owner_id(value: Any, param: str = "owner_id") -> str:
    if not is_owner_id(value):
        raise _fail(param, "your user or organisation id: a non-empty printable string of at most 255 characters "
                           "without surrounding spaces", value)
    return str(value)


def email(value: Any, param: str = "email", *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not _clean(value, max_length=512) or not _EMAIL.fullmatch(value):
        raise _fail(param, "an email address like 'a@example.com'", value)
    return str(value)


def text(value: Any, param: str, *, max_length: int = 256, required: bool = False,
         multiline: bool = False) -> str | None:
    """Free text (a name, a reason): None when optional, else non-blank, trimmed, no control characters."""
    if value is None and not required:
        return None
    if not _clean(value, max_length=max_length, multiline=multiline):
        raise _fail(param, f"a non-empty string of at most {max_length:,} characters without surrounding spaces "
                           "or control characters", value)
    return str(value)


def metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """Stripe's limits: 50 keys, keys up to 40 characters, values up to 500, all strings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(param, "a dict of strings", value)
    if len(value) > 50:
        raise InvalidInputError(f"{param} may have at most 50 keys (Stripe's limit), got {len(value)}.", param=param)
    for k, v in value.items():
        if not _clean(k, max_length=40) or "[" in k or "]" in k:
            raise InvalidInputError(f"{param} keys must be 1-40 characters without brackets, spaces around them or "
                                    f"control characters, got {echo(k)}.", param=param)
        if not isinstance(v, str) or len(v) > 500 or "\x00" in v or not _unicode_ok(v):
            raise InvalidInputError(f"{param}[{k}] must be a string of at most 500 characters without NUL, got "
                                    f"{echo(v)}.", param=param)
    return dict(value)


def stripe_id(value: Any, prefix: str, param: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix + "_") or not _STRIPE_ID.fullmatch(value):
        raise _fail(param, f"a Stripe id starting with '{prefix}_'", value)
    return value


def lookup_key(value: Any, param: str = "lookup_key") -> str:
    if not isinstance(value, str) or not _LOOKUP_KEY.fullmatch(value):
        raise _fail(param, "1-200 characters of letters, digits, '_', '-', '.' or ':'", value)
    return value


def meter_name(value: Any, param: str = "meter") -> str:
    """A Stripe meter's ``event_name`` (a feature key has the same characters)."""
    if not isinstance(value, str) or not _METER.fullmatch(value):
        raise _fail(param, "a meter event_name (1-100 letters, digits, '_', '-', '.' or ':')", value)
    return value


def idempotency_key(value: Any, param: str = "idempotency_key") -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise _fail(param, "1-255 visible ASCII characters without spaces", value)
    return value


def keys(value: Any, param: str = "keys") -> list[str]:
    """A collection (not a single string) of keys, each as ``idempotency_key`` requires."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise _fail(param, "a list of keys", value)
    return [idempotency_key(k, param) for k in value]


def integer(value: Any, param: str, *, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum]: not a bool, float, Decimal or string."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _fail(param, f"an integer from {minimum:,} to {maximum:,}", value)
    return value


def limit(value: Any, param: str = "limit", *, maximum: int = 100) -> int:
    return integer(value, param, minimum=1, maximum=maximum)


def seconds(value: Any, param: str, *, minimum: float, maximum: float, open_minimum: bool = False) -> float:
    """A finite number of seconds (int or float, not bool)."""
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and (
        minimum < value if open_minimum else minimum <= value) and value <= maximum
    if not ok:
        low = "(" if open_minimum else "["
        raise _fail(param, f"a number of seconds in {low}{minimum:g}, {maximum:g}]", value)
    return float(value)


def boolean(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(param, "True or False", value)
    return value


def optional_boolean(value: Any, param: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _fail(param, "True, False or None", value)
    return value


def choice(value: Any, param: str, options: Collection[str]) -> str:
    """One of ``options`` exactly (an enum member; also in list filters)."""
    if not isinstance(value, str) or value not in options:
        raise InvalidInputError(f"{param} must be one of {', '.join(options)}, got {echo(value)}.", param=param)
    return value


def aware_datetime(value: Any, param: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise _fail(param, "a timezone-aware datetime (e.g. datetime.now(UTC))", value)
    return value


def timedelta_(value: Any, param: str, *, minimum: timedelta, maximum: timedelta) -> timedelta:
    if not isinstance(value, timedelta) or not minimum <= value <= maximum:
        raise _fail(param, f"a timedelta from {minimum} to {maximum}", value)
    return value


def callable_(value: Any, param: str) -> Callable[..., Any]:
    if not callable(value):
        raise _fail(param, "a callable", value)
    return value


def url(value: Any, param: str = "url") -> str:
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise _fail(param, "an absolute http(s) URL of visible ASCII characters", value)
    return value


def json_object(value: Any, param: str, *, max_depth: int = 32) -> dict[str, Any]:
    """A dict that any database's JSON column takes: string keys, finite numbers, no NUL or lone
    surrogates in any string, nested at most ``max_depth`` deep."""
    if not isinstance(value, Mapping):
        raise _fail(param, "a dict", value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise InvalidInputError(f"{param} is nested deeper than {max_depth} levels.", param=param)
        kind = type(node)    # the exact JSON types first: a Stripe object has thousands of nodes
        if kind is str:
            if "\x00" in node or not (node.isascii() or _unicode_ok(node)):
                raise InvalidInputError(f"{param} strings must not contain NUL or lone surrogates, got "
                                        f"{echo(node)}.", param=param)
        elif kind is dict or (kind is not list and kind is not tuple and isinstance(node, Mapping)):
            for k, v in node.items():
                if (type(k) is not str or "\x00" in k or not k.isascii()) and (
                        not isinstance(k, str) or "\x00" in k or not _unicode_ok(k)):
                    raise InvalidInputError(f"{param} keys must be strings without NUL or lone surrogates, got "
                                            f"{echo(k)}.", param=param)
                stack.append((v, depth + 1))
        elif kind is list or kind is tuple or isinstance(node, list | tuple):
            stack.extend((v, depth + 1) for v in node)
        elif kind is int or kind is bool or node is None:
            if kind is int and not -JSON_INT <= node <= JSON_INT:
                raise InvalidInputError(f"{param} integers must be within ±2^63, got {echo(node)}.", param=param)
        else:
            _json_scalar(node, param)
    return dict(value)


def _json_scalar(node: Any, param: str) -> None:
    """``json_object``'s check of a leaf that is not exactly str, int, bool or None (subclasses included)."""
    if isinstance(node, str):
        if "\x00" in node or not _unicode_ok(node):
            raise InvalidInputError(f"{param} strings must not contain NUL or lone surrogates, got "
                                    f"{echo(node)}.", param=param)
    elif isinstance(node, float):
        if not math.isfinite(node):
            raise InvalidInputError(f"{param} numbers must be finite, got {node!r}.", param=param)
    elif isinstance(node, int) and not isinstance(node, bool):
        if not -JSON_INT <= node <= JSON_INT:
            raise InvalidInputError(f"{param} integers must be within ±2^63, got {echo(node)}.", param=param)
    elif isinstance(node, Decimal):   # the SDK's decimal fields (e.g. unit_amount_decimal)
        if not node.is_finite():
            raise InvalidInputError(f"{param} numbers must be finite, got {echo(str(node))}.", param=param)
    elif node is not None and not isinstance(node, bool):
        raise InvalidInputError(f"{param} must hold only JSON values (strings, numbers, booleans, None, lists, "
                                f"dicts), got {echo(node)}.", param=param)


def stripe_object(value: Any, param: str, *, prefix: str, kind: str) -> dict[str, Any]:
    """A Stripe object of ``kind`` as a dict (or StripeObject): an ``id`` with ``prefix``, JSON inside."""
    data = value.to_dict() if callable(getattr(value, "to_dict", None)) else value
    if not isinstance(data, Mapping):
        raise _fail(param, f"a Stripe {kind} object (a dict)", value)
    stripe_id(data.get("id"), prefix, f"{param}.id")
    if data.get("object", kind) != kind:
        raise InvalidInputError(f"{param} must be a Stripe {kind} object, got object={echo(data.get('object'))}.",
                                param=param)
    return json_object(data, param)


def owner_meter_pairs(value: Any, param: str = "pairs") -> set[tuple[str, str]]:
    """A collection of ``(owner_id, meter)`` pairs (a meter event name or a feature key)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise _fail(param, "a collection of (owner_id, meter) pairs", value)
    out = set()
    for pair in value:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise _fail(param, "a collection of (owner_id, meter) pairs", pair)
        out.add((owner_id(pair[0], param), meter_name(pair[1], param)))
    return out


_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,64}")


def page_cursor(tag: str, row_id: int) -> str:
    """The opaque ``next_cursor`` of a keyset page: the last row's id, tagged with the list it came from."""
    return base64.urlsafe_b64encode(f"{tag}:{row_id}".encode()).decode().rstrip("=")


def keyset_page(rows: list[Any], limit: int, tag: str) -> tuple[list[Any], str | None]:
    """A page from the ``limit + 1`` rows a keyset query read: its rows, and the cursor to the next page
    (None on the last one)."""
    page = rows[:limit]
    return page, page_cursor(tag, page[-1].id) if len(rows) > limit and page else None


def cursor_row(cursor: Any, tag: str, param: str = "after") -> int | None:
    """The row id behind a ``page_cursor(tag, ...)``; None for no cursor. Anything else is InvalidInputError."""
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not _CURSOR.fullmatch(cursor):
        raise InvalidInputError(f"{param} must be the next_cursor of a previous page, got {echo(cursor)}.",
                                param=param)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    head, _, digits = raw.partition(":")
    if head != tag or not digits.isdigit() or len(digits) > 18:
        raise InvalidInputError(f"{param}={echo(cursor)} is not a cursor from a previous page.", param=param)
    return int(digits)
