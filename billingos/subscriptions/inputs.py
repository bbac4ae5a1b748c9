"""The shape of ``billing.subscriptions``'s arguments, checked before any lookup or Stripe call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import validation
from ..errors import InvalidInputError

__all__ = ["BEHAVIORS", "PAUSE_BEHAVIORS", "PRORATION", "REACTIVATE_OPTIONS", "STATUSES", "change", "create_options",
           "future", "lines", "price_ref", "quantity"]

PRORATION = {"prorate": "create_prorations", "none": "none", "always_invoice": "always_invoice",
             "at_period_end": "none"}   # at_period_end: a subscription schedule phase at the period end
BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete")
PAUSE_BEHAVIORS = ("void", "keep_as_draft", "mark_uncollectible")
STATUSES = ("incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused")
REACTIVATE_OPTIONS = ("trial_days", "trial_end", "billing_cycle_anchor", "payment_method", "coupon", "promotion_code",
                      "metadata", "payment_behavior", "idempotency_key")


def quantity(value: Any, param: str) -> int:
    return validation.integer(value, param, minimum=1, maximum=1_000_000)


def price_ref(value: Any, param: str) -> str:
    """A Stripe price id (``price_...``) or a lookup key."""
    if isinstance(value, str) and value.startswith("price_"):
        return validation.stripe_id(value, "price", param)
    return validation.lookup_key(value, param)


def future(when: Any, param: str, now: datetime) -> int:
    """A timezone-aware datetime after ``now``, as a unix timestamp."""
    validation.aware_datetime(when, param)
    if when <= now:
        raise InvalidInputError(f"{param} must be in the future.", param=param)
    return int(when.timestamp())


def change(price: Any, quantity_: Any, proration: Any, proration_date: Any) -> None:
    """change()/preview_change(): a price and/or a quantity, a proration policy, an aware proration date."""
    if price is None and quantity_ is None:
        raise InvalidInputError("change() needs price= and/or quantity=.", param="price")
    if price is not None:
        price_ref(price, "price")
    if quantity_ is not None:
        quantity(quantity_, "quantity")
    if proration is not None:
        validation.choice(proration, "proration", PRORATION)
    if proration_date is not None:
        validation.aware_datetime(proration_date, "proration_date")


def create_options(now: datetime, *, trial_days: int | None = None, trial_end: datetime | None = None,
                   billing_cycle_anchor: datetime | None = None, payment_method: str | None = None,
                   coupon: str | None = None, promotion_code: str | None = None, metadata: dict[str, str] | None = None,
                   payment_behavior: str = "allow_incomplete", idempotency_key: str | None = None) -> dict[str, Any]:
    """create()'s options (but the customer and the items) as Stripe parameters."""
    params: dict[str, Any] = {"metadata": validation.metadata(metadata)}
    if trial_days is not None and trial_end is not None:
        raise InvalidInputError("Give trial_days= or trial_end=, not both.", param="trial_days")
    if trial_days is not None:
        params["trial_period_days"] = validation.integer(trial_days, "trial_days", minimum=1, maximum=730)
    if trial_end is not None:
        params["trial_end"] = future(trial_end, "trial_end", now)
    if billing_cycle_anchor is not None:
        params["billing_cycle_anchor"] = future(billing_cycle_anchor, "billing_cycle_anchor", now)
    if payment_method is not None:
        params["default_payment_method"] = validation.stripe_id(payment_method, "pm", "payment_method")
    if coupon is not None:
        params["discounts"] = [{"coupon": validation.text(coupon, "coupon", max_length=255, required=True)}]
    if promotion_code is not None:
        params.setdefault("discounts", []).append(
            {"promotion_code": validation.stripe_id(promotion_code, "promo", "promotion_code")})
    params["payment_behavior"] = validation.choice(payment_behavior, "payment_behavior", BEHAVIORS)
    if idempotency_key is not None:
        validation.idempotency_key(idempotency_key)
    return params


def lines(items: list[Any], param: str) -> None:
    """The items' shape: 1-20 dicts of a price reference and an optional quantity. ``param``: "price" when
    they came from ``price=``/``quantity=``, else "items"."""
    if not items or len(items) > 20:
        raise InvalidInputError(f"A subscription needs 1 to 20 items (Stripe's limit), got {len(items)}.",
                                param="items")
    line: Any
    for n, line in enumerate(items):
        where = "" if param == "price" else f"items[{n}]."
        if not isinstance(line, dict) or set(line) - {"price", "quantity"} or "price" not in line:
            raise InvalidInputError(f"items[{n}] must be a dict with 'price' and optional 'quantity', got "
                                    f"{validation.echo(line)}.", param=f"items[{n}]")
        price_ref(line["price"], f"{where}price")
        if line.get("quantity") is not None:
            quantity(line["quantity"], f"{where}quantity")
