"""What a webhook body must be before billingos stores it: a Stripe event, parsed safely.

Anything else (too big, not UTF-8 JSON, NaN or an infinite number, a duplicated key, nested past any real
event, fields of the wrong type or size, a NUL or a lone surrogate that PostgreSQL cannot store) is a
``WebhookPayloadError``: a 400, which Stripe does not retry. ``check_event`` holds an event that did not
come through a body (reconcile's Events API listing) to the same rules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .. import validation
from ..errors import InvalidInputError
from .signature import WebhookSignatureError

__all__ = ["MAX_BODY", "MAX_DEPTH", "WebhookPayloadError", "check_event", "declared_length", "parse_event"]

MAX_BODY = 512 * 1024            # Stripe events are far smaller; anything bigger is not Stripe
MAX_DEPTH = 64                   # Stripe's deepest expanded objects nest about a dozen levels
MAX_ID = 255                     # the width of the id columns
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")
_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+){1,5}")
_VERSION = re.compile(r"[0-9A-Za-z.\-_]{1,64}")
_TIMESTAMP = range(0, 2**33)     # seconds since 1970, before the year 2242


class WebhookPayloadError(WebhookSignatureError, InvalidInputError):
    """The body is not a Stripe event (wrong content type, too large, not JSON, missing fields)."""

    code = "webhook_payload_invalid"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):          # 1e400: JSON allows it, no database's JSON type does
        raise ValueError("a number out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):            # two parsers could read two different events from one body
        raise ValueError("a duplicated key")
    return out


def declared_length(value: str | None) -> int | None:
    """A request's Content-Length header for the adapters: None when absent (a chunked body), else the
    byte count; WebhookPayloadError when it is malformed or over ``MAX_BODY`` (the body is then not read)."""
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise WebhookPayloadError(f"Content-Length must be a number of bytes, got {validation.echo(value)}.",
                                  param="headers")
    if int(value) > MAX_BODY:
        raise WebhookPayloadError(f"The body is {int(value)} bytes, over the {MAX_BODY} byte limit.", param="body")
    return int(value)


def parse_event(body: bytes) -> dict[str, Any]:
    """The event in ``body``, or WebhookPayloadError naming what is wrong."""
    if b"\x00" in body:
        raise WebhookPayloadError("The body contains a NUL byte, which no Stripe event does.", param="body")
    try:
        text = body.decode("utf-8")       # strict: Stripe sends UTF-8, without a byte order mark
    except UnicodeDecodeError:
        raise WebhookPayloadError("The body is not UTF-8 text.", param="body") from None
    try:
        event = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite,
                           object_pairs_hook=_unique_keys)
    except RecursionError:
        raise WebhookPayloadError("The body is nested deeper than any Stripe event.", param="body") from None
    except ValueError as e:               # JSONDecodeError, our hooks' refusals, integers over 4,300 digits
        raise WebhookPayloadError(f"The body is not valid JSON: {str(e)[:80]}.", param="body") from None
    return check_event(event)


def check_event(event: Any, param: str = "body") -> dict[str, Any]:
    """``event`` if it has a Stripe event's shape and any database can store it, else WebhookPayloadError
    (naming ``param``: the body, or the ``event`` given to ``webhooks.store``)."""
    if not isinstance(event, dict):
        raise WebhookPayloadError(f"The {param} is not a Stripe event (a JSON object).", param=param)
    try:
        validation.json_object(event, "event", max_depth=MAX_DEPTH)
    except InvalidInputError as e:        # NUL (\u0000), lone surrogates, NaN, nesting: no database takes them
        raise WebhookPayloadError(f"The {param} is not a storable Stripe event: {e.message}", param=param) from None
    _check(param, isinstance(event.get("id"), str) and _EVENT_ID.fullmatch(event["id"]) is not None,
           "id must be a Stripe event id (evt_...)")
    kind = event.get("type")
    _check(param, isinstance(kind, str) and len(kind) <= MAX_ID and _TYPE.fullmatch(kind) is not None,
           "type must be a Stripe event type such as 'invoice.paid'")
    data = event.get("data")
    if not (isinstance(data, Mapping) and isinstance(data.get("object"), Mapping)):
        raise WebhookPayloadError(f"The {param} is not a Stripe event: data.object must be an object.", param=param)
    oid = data["object"].get("id")
    _check(param, oid is None or (isinstance(oid, str) and 0 < len(oid) <= MAX_ID and oid.isprintable()),
           f"data.object.id must be a string of at most {MAX_ID} characters")
    created = event.get("created")
    _check(param, created is None or (type(created) is int and created in _TIMESTAMP),
           "created must be a unix timestamp in seconds")
    _check(param, isinstance(event.get("livemode", False), bool), "livemode must be true or false")
    version = event.get("api_version")
    _check(param, version is None or (isinstance(version, str) and _VERSION.fullmatch(version) is not None),
           "api_version must be a Stripe API version such as '2025-03-31.basil'")
    return event


def _check(param: str, ok: bool, message: str) -> None:
    if not ok:
        raise WebhookPayloadError(f"The {param} is not a Stripe event: {message}.", param=param)
