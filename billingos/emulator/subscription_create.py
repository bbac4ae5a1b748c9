"""Creating a subscription: the params validated into a subscription that is not stored yet, its first
period and its first invoice. Shared by ``POST /v1/subscriptions``, ``create_preview`` and subscription
schedules, so a preview or a schedule's start is exactly what a create does. Writes nothing.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .billing_common import ABSENT, DAY, add_interval, next_boundary, timestamp_param
from .cards import decline_error
from .discounts import apply_discounts, resolve_discounts
from .errors import StripeError, invalid
from .invoice_totals import compute
from .payments import predict
from .routing import Request
from .store import new_id
from .subscription_changes import parse_item_changes, tax_rate_ids, validate_items
from .subscription_engine import (
    make_item,
    payment_method_for,
    period_lines,
    sub_interval,
    sub_invoice,
    sub_period,
)
from .subscription_update import (
    NO_PM_MESSAGE,
    PAYMENT_BEHAVIORS,
    check_payment_method,
    refuse_pending_if_incomplete,
    trial_settings,
)

if TYPE_CHECKING:
    from .app import Emulator


def _trial_end(em: Emulator, p: Any, prices: list[dict[str, Any]], at: int) -> int | None:
    te = timestamp_param(p, "trial_end", allow_now=True)
    days = p.int("trial_period_days", min=0, max=730)
    from_plan = p.bool("trial_from_plan", default=False)
    if te is not ABSENT and days is not None:
        raise invalid(
            "You may only specify one of these parameters: trial_end, trial_period_days.", "trial_end"
        )
    if from_plan and (te is not ABSENT or days is not None):
        raise invalid(
            "trial_from_plan cannot be combined with trial_end or trial_period_days.", "trial_from_plan"
        )
    if te == "now":
        return None
    if te is not ABSENT:
        if te <= at:
            raise invalid("Invalid timestamp: must be an integer Unix timestamp in the future.", "trial_end")
        return te
    if from_plan:
        days = max(((pr.get("recurring") or {}).get("trial_period_days") or 0) for pr in prices)
    return at + days * DAY if days else None


def blank_subscription(cust: dict[str, Any], at: int) -> dict[str, Any]:
    sid = new_id("sub", 24)
    return {
        "id": sid,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": at,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "feedback_option": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": at,
        "currency": "usd",
        "customer": cust["id"],
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": {"type": "self"},
        },
        "items": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/subscription_items?subscription={sid}",
        },
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": None,
        "start_date": at,
        "status": "incomplete",
        "status_details": None,
        "test_clock": cust.get("test_clock"),
        "transfer_data": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"billing_cycle_anchor": None, "missing_payment_method": "create_invoice"}},
        "trial_start": None,
    }


def parse_create(em: Emulator, req: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate everything; returns (subscription not stored, options). Writes nothing."""
    p = req.params
    cust = em.store.get("customer", p.str("customer", required=True), param="customer")
    at = em.now(cust)
    changes = parse_item_changes(em, p, "items", create=True)
    if not changes:
        raise StripeError("Missing required param: items.", param="items", code="parameter_missing")
    sub = blank_subscription(cust, at)
    prices = [c.price for c in changes if c.price is not None]
    currency = p.str("currency")
    if currency is not None and currency.lower() != prices[0]["currency"]:
        raise invalid(f"The currency {currency} does not match the price's currency.", "currency")
    opts: dict[str, Any] = {"at": at, "changes": changes}
    opts["payment_behavior"] = p.str(
        "payment_behavior", choices=PAYMENT_BEHAVIORS, default="allow_incomplete"
    )
    refuse_pending_if_incomplete(opts["payment_behavior"])
    opts["proration_behavior"] = p.str(
        "proration_behavior",
        choices=("always_invoice", "create_prorations", "none"),
        default="create_prorations",
    )
    opts["trial_end"] = _trial_end(em, p, prices, at)
    anchor = p.int("billing_cycle_anchor", min=0)
    _parse_collection(em, p, sub, cust)
    _parse_cancel_schedule(p, sub, at)
    if p.has("trial_settings"):
        sub["trial_settings"] = trial_settings(p)
    sub["default_tax_rates"] = [
        copy.deepcopy(em.store.objects[r]) for r in tax_rate_ids(em, p, "default_tax_rates") or []
    ]
    sub["description"] = p.str("description", max_length=500)
    sub["metadata"] = p.metadata({}) or {}
    opts["discounts"] = resolve_discounts(em, p, "discounts", cust["id"], at) or []
    p.get("off_session")
    p.get("payment_settings")
    p.done()
    set_periods(em, sub, opts, anchor)
    return sub, opts


def _parse_collection(em: Emulator, p: Any, sub: dict[str, Any], cust: dict[str, Any]) -> None:
    sub["collection_method"] = p.str(
        "collection_method", choices=("charge_automatically", "send_invoice"), default="charge_automatically"
    )
    days = p.int("days_until_due", min=0, max=730)
    if days is not None and sub["collection_method"] != "send_invoice":
        raise invalid(
            "days_until_due can only be set when collection_method is send_invoice.", "days_until_due"
        )
    sub["days_until_due"] = (
        (30 if days is None else days) if sub["collection_method"] == "send_invoice" else None
    )
    pm_id = p.str("default_payment_method")
    if pm_id is not None:
        check_payment_method(em, pm_id, cust["id"], "default_payment_method")
    sub["default_payment_method"] = pm_id


def _parse_cancel_schedule(p: Any, sub: dict[str, Any], at: int) -> None:
    cape = p.bool("cancel_at_period_end", default=False)
    cancel_at = p.int("cancel_at", min=0)
    if cape and cancel_at is not None:
        raise invalid(
            "You may only specify one of these parameters: cancel_at, cancel_at_period_end.", "cancel_at"
        )
    if cancel_at is not None and cancel_at <= at:
        raise invalid("cancel_at must be in the future.", "cancel_at")
    sub["cancel_at_period_end"] = bool(cape)
    sub["cancel_at"] = cancel_at
    sub["canceled_at"] = at if (cape or cancel_at) else None


def set_periods(em: Emulator, sub: dict[str, Any], opts: dict[str, Any], anchor: int | None) -> None:
    at, te = opts["at"], opts["trial_end"]
    prices = [c.price for c in opts["changes"]]
    rec = prices[0]["recurring"]
    interval, count = rec["interval"], int(rec.get("interval_count") or 1)
    if anchor is not None and (anchor <= at or anchor > add_interval(at, interval, count)):
        raise invalid(
            "billing_cycle_anchor must be in the future and within one billing period.",
            "billing_cycle_anchor",
        )
    if anchor is not None and te is not None and anchor < te:
        raise invalid("billing_cycle_anchor cannot be before trial_end.", "billing_cycle_anchor")
    sub["billing_cycle_anchor"] = anchor or te or at
    period = (at, te) if te else (at, next_boundary(sub["billing_cycle_anchor"], interval, count, at))
    sub["currency"] = prices[0]["currency"]
    items = [
        make_item(
            em,
            sub["id"],
            c.price,
            1 if c.quantity is None else c.quantity,
            c.tax_rates or [],
            c.metadata or {},
            at,
            period,
        )
        for c in opts["changes"]
    ]
    validate_items(items, "items")
    sub["items"]["data"], sub["items"]["total_count"] = items, len(items)
    if te:
        sub.update(status="trialing", trial_start=at, trial_end=te)
    elif sub["collection_method"] == "send_invoice":
        sub["status"] = "active"


def first_invoice(em: Emulator, sub: dict[str, Any], opts: dict[str, Any], preview: bool) -> dict[str, Any]:
    at = opts["at"]
    period = sub_period(sub)
    inv = sub_invoice(em, sub, at, "subscription_create", period, preview)
    if sub["status"] == "trialing":
        period_lines(em, inv, sub["id"], sub["items"]["data"], period, trial=True)
    elif sub["billing_cycle_anchor"] > at:
        if opts["proration_behavior"] != "none":
            interval, count = sub_interval(sub)
            full = sub["billing_cycle_anchor"] - add_interval(sub["billing_cycle_anchor"], interval, -count)
            period_lines(
                em,
                inv,
                sub["id"],
                sub["items"]["data"],
                period,
                fraction=Fraction(period[1] - period[0], full),
            )
    else:
        period_lines(em, inv, sub["id"], sub["items"]["data"], period)
    return inv


def precheck_create(em: Emulator, sub: dict[str, Any], opts: dict[str, Any]) -> None:
    if (
        opts["payment_behavior"] != "error_if_incomplete"
        or sub["collection_method"] != "charge_automatically"
    ):
        return
    dry: dict[str, dict[str, Any]] = {}
    virtual = {
        **sub,
        "discounts": apply_discounts(
            em, opts["discounts"], at=opts["at"], customer=sub["customer"], subscription=sub["id"], dry=dry
        ),
    }
    inv = compute(em, first_invoice(em, virtual, opts, True), apply_balance=True, extra=dry)
    if inv["amount_due"] <= 0:
        return
    pm = payment_method_for(em, sub)
    if pm is None:
        raise StripeError(NO_PM_MESSAGE, param="default_payment_method", code="resource_missing")
    ok, decline = predict(em, pm)
    if not ok:
        raise decline_error(decline or "generic_decline")
