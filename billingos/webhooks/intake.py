"""What a webhook body must be before billingos stores it: a Stripe event, parsed safely.

Anything else (too big, not JSON, NaN, nested past any real event, fields of the wrong type or size, a
NUL that PostgreSQL cannot store) is a ``WebhookPayloadError``: a 400, which Stripe does not retry.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .signature import WebhookSignatureError

__all__ = ["MAX_BODY", "WebhookPayloadError", "parse_event"]

MAX_BODY = 512 * 1024            # Stripe events are far smaller; anything bigger is not Stripe
MAX_ID = 255                     # the width of the id columns
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")
_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+){1,5}")
_TIMESTAMP = range(0, 2**33)     # seconds since 1970, before the year 2242


class WebhookPayloadError(WebhookSignatureError):
    """The body is not a Stripe event (wrong content type, too large, not JSON, missing fields)."""

    code = "webhook_payload_invalid"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_event(body: bytes) -> dict[str, Any]:
    """The event in ``body``, or WebhookPayloadError naming what is wrong."""
    if b"\\u0000" in body or b"\x00" in body:
        raise WebhookPayloadError("The body contains a NUL character, which no Stripe event does.")
    try:
        event = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise WebhookPayloadError("The body is nested deeper than any Stripe event.") from None
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("The body is not valid JSON.") from None
    if not isinstance(event, dict):
        raise WebhookPayloadError("The body is not a Stripe event (a JSON object).")
    _check(isinstance(event.get("id"), str) and _EVENT_ID.fullmatch(event["id"]) is not None,
           "id must be a Stripe event id (evt_...)")
    _check(isinstance(event.get("type"), str) and len(event["type"]) <= MAX_ID
           and _TYPE.fullmatch(event["type"]) is not None, "type must be a Stripe event type such as 'invoice.paid'")
    data = event.get("data")
    if not (isinstance(data, dict) and isinstance(data.get("object"), dict)):
        raise WebhookPayloadError("The body is not a Stripe event: data.object must be an object.")
    oid = data["object"].get("id")
    _check(oid is None or (isinstance(oid, str) and 0 < len(oid) <= MAX_ID and oid.isprintable()),
           f"data.object.id must be a string of at most {MAX_ID} characters")
    created = event.get("created")
    _check(created is None or (type(created) is int and created in _TIMESTAMP),
           "created must be a unix timestamp in seconds")
    _check(isinstance(event.get("livemode", False), bool), "livemode must be true or false")
    version = event.get("api_version")
    _check(version is None or (isinstance(version, str) and len(version) <= 64), "api_version must be a short string")
    return event


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise WebhookPayloadError(f"The body is not a Stripe event: {message}.")
