"""The one way to Stripe: a ``stripe.StripeClient`` per Billing, and typed errors for its failures."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar, cast

import stripe

from .config import BillingConfig
from .errors import CardDeclinedError, NotFoundError, StripeRequestError, StripeUnavailableError

__all__ = ["build_client", "call_stripe", "intent_key", "plain"]

T = TypeVar("T")


def build_client(config: BillingConfig, emulator: Any | None) -> stripe.StripeClient:
    """Real Stripe, a Stripe-compatible server (``stripe_api_base``), or the in-process emulator."""
    if emulator is not None:
        return stripe.StripeClient(config.api_key, http_client=emulator.http_client(),
                                   max_network_retries=0)
    bases: dict[str, str] = {}
    if config.stripe_api_base:
        bases = {"api": config.stripe_api_base.rstrip("/")}
    return stripe.StripeClient(config.api_key, base_addresses=bases,  # type: ignore[arg-type]
                               max_network_retries=config.stripe_max_network_retries)


def intent_key(action: str, *parts: Any) -> str:
    """An idempotency key derived from the local intent: the same intent gives the same key.

    The parameters are hashed in, so a retry with other parameters gets a new key instead of
    Stripe's 400 for a reused key."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"billingos:{action}:{digest}"


def call_stripe(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call and translate its errors into billingos's typed ones."""
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as e:
        raise CardDeclinedError(f"The card was declined: {e.user_message or e}",
                                decline_code=getattr(e.error, "decline_code", None) if e.error else None,
                                stripe_code=e.code, http_status=e.http_status) from e
    except stripe.APIConnectionError as e:
        raise StripeUnavailableError("Stripe could not be reached; nothing was written. Try again later.",
                                     stripe_code="api_connection_error") from e
    except stripe.RateLimitError as e:
        raise StripeUnavailableError("Stripe rate-limited the request; retry with backoff.",
                                     stripe_code=e.code, http_status=e.http_status) from e
    except stripe.StripeError as e:
        status = e.http_status or 0
        message = e.user_message or str(e)
        param = getattr(e.error, "param", None) if e.error else None
        if status >= 500:
            raise StripeUnavailableError(f"Stripe failed ({status}); nothing was written. {message}",
                                         stripe_code=e.code, http_status=status) from e
        if status == 404 or e.code == "resource_missing":
            raise NotFoundError(f"Stripe has no such object: {message}", param=param) from e
        raise StripeRequestError(f"Stripe refused the request: {message}", stripe_code=e.code,
                                 http_status=status, param=param) from e


def ref_id(value: Any) -> str | None:
    """An expandable field's id: the object's ``id`` when it was expanded, else the field itself."""
    return value.get("id") if isinstance(value, Mapping) else value


def plain(obj: Any) -> dict[str, Any]:
    """A StripeObject (or dict) as a plain JSON-ready dict, as on the wire: the SDK's Decimals become strings."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return cast(dict[str, Any], _jsonable(data))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    return value
