"""Updating a subscription: parse the params (nothing written), check ``error_if_incomplete`` on a dry
run, then apply items, prorations, cancellation schedule, pause_collection and trial changes, and invoice
when the change calls for it. Shared by ``POST /v1/subscriptions/{id}``, the subscription item routes and
``create_preview``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .billing_common import ABSENT, timestamp_param
from .cards import decline_error
from .discounts import apply_discounts, resolve_discounts
from .errors import StripeError, invalid
from .invoice_totals import compute
from .params import Params
from .payments import predict
from .proration import store_items
from .subscription_changes import (
    ItemChange,
    Plan,
    parse_item_changes,
    plan_change,
    plan_invoice,
    tax_rate_ids,
)
from .subscription_engine import (
    collect,
    end_trial,
    maybe_trial_will_end,
    payment_method_for,
    sub_period,
    with_period,
)

if TYPE_CHECKING:
    from .app import Emulator
    from .routing import Request

PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")
PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")
NO_PM_MESSAGE = (
    "This customer has no attached payment source or default payment method. Please consider "
    "adding a default payment method."
)


@dataclass
class UpdateSpec:
    items: list[ItemChange] | None = None
    proration_behavior: str = "create_prorations"
    proration_date: int | None = None
    anchor_now: bool = False
    payment_behavior: str = "allow_incomplete"
    fields: dict[str, Any] = field(default_factory=dict)  # plain field changes
    discounts: list[dict[str, Any]] | None = None
    trial_end: Any = ABSENT


def refuse_pending_if_incomplete(behavior: str) -> None:
    if behavior == "pending_if_incomplete":
        raise invalid(
            "payment_behavior=pending_if_incomplete is not supported by the billingos emulator; use "
            "allow_incomplete, default_incomplete or error_if_incomplete.",
            "payment_behavior",
        )


def parse_common(em: Emulator, p: Params, spec: UpdateSpec) -> None:
    """proration_behavior, proration_date, payment_behavior (shared with subscription items)."""
    spec.proration_behavior = p.str(
        "proration_behavior", choices=PRORATION_BEHAVIORS, default="create_prorations"
    )
    spec.proration_date = p.int("proration_date", min=0)
    spec.payment_behavior = p.str("payment_behavior", choices=PAYMENT_BEHAVIORS, default="allow_incomplete")
    refuse_pending_if_incomplete(spec.payment_behavior)


def parse_update(em: Emulator, sub: dict[str, Any], p: Params, at: int) -> UpdateSpec:
    spec = UpdateSpec(items=parse_item_changes(em, p, "items"))
    parse_common(em, p, spec)
    anchor = p.str("billing_cycle_anchor", choices=("now", "unchanged"))
    spec.anchor_now = anchor == "now"
    f = spec.fields
    parse_cancel(p, sub, at, f)
    _parse_payment(em, p, sub, f)
    if p.has("default_tax_rates"):
        f["default_tax_rates"] = [
            copy.deepcopy(em.store.objects[r]) for r in tax_rate_ids(em, p, "default_tax_rates") or []
        ]
    if p.has("description"):
        f["description"] = p.str("description", nullable=True, max_length=500)
    metadata = p.metadata(sub.get("metadata", {})) if p.has("metadata") else None
    if metadata is not None:
        f["metadata"] = metadata
    if p.has("pause_collection"):
        f["pause_collection"] = _pause_collection(p)
    if p.has("trial_settings"):
        f["trial_settings"] = trial_settings(p)
    spec.trial_end = timestamp_param(p, "trial_end", allow_now=True)
    p.get("off_session")
    p.get("payment_settings")
    spec.discounts = resolve_discounts(em, p, "discounts", sub["customer"], at)
    return spec


def parse_cancel(p: Params, sub: dict[str, Any], at: int, f: dict[str, Any]) -> None:
    end = sub_period(sub)[1]
    cape = p.bool("cancel_at_period_end")
    cancel_at = ABSENT
    if p.has("cancel_at"):
        raw = p.get("cancel_at")
        cancel_at = (
            end
            if raw in ("max_period_end", "min_period_end")
            else timestamp_param(p, "cancel_at", nullable=True)
        )
    if cape is not None and cancel_at is not ABSENT and cancel_at is not None:
        raise invalid(
            "You may only specify one of these parameters: cancel_at, cancel_at_period_end.", "cancel_at"
        )
    if cape is True or (cancel_at is not ABSENT and cancel_at is not None):
        when = int(end if cape is True else cancel_at)  # type: ignore[call-overload]
        if when <= at:
            raise invalid("cancel_at must be in the future.", "cancel_at")
        f.update(cancel_at=when, cancel_at_period_end=when == end, canceled_at=at)
    elif cape is False or cancel_at is None:
        f.update(cancel_at=None, cancel_at_period_end=False, canceled_at=None)
    details = p.sub("cancellation_details")
    if details is not None:
        f["cancellation_details"] = {
            **(sub.get("cancellation_details") or {"feedback_option": None, "reason": None}),
            "comment": details.str("comment", nullable=True, max_length=5000),
            "feedback": details.str("feedback", nullable=True, choices=FEEDBACK),
        }
        details.done()


FEEDBACK = (
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
)


def _parse_payment(em: Emulator, p: Params, sub: dict[str, Any], f: dict[str, Any]) -> None:
    if p.has("default_payment_method"):
        pm_id = p.str("default_payment_method", nullable=True)
        if pm_id is not None:
            check_payment_method(em, pm_id, sub["customer"], "default_payment_method")
        f["default_payment_method"] = pm_id
    if p.has("collection_method"):
        f["collection_method"] = p.str("collection_method", choices=("charge_automatically", "send_invoice"))
    if p.has("days_until_due"):
        f["days_until_due"] = p.int("days_until_due", min=0, max=730)
    method = f.get("collection_method", sub["collection_method"])
    if method == "charge_automatically" and f.get("days_until_due") is not None:
        raise invalid(
            "days_until_due can only be set when collection_method is send_invoice.", "days_until_due"
        )
    if method == "send_invoice" and f.get("collection_method") == "send_invoice":
        f.setdefault("days_until_due", sub.get("days_until_due") or 30)
    if method == "charge_automatically" and "collection_method" in f:
        f["days_until_due"] = None


def check_payment_method(em: Emulator, pm_id: str, customer: str, param: str) -> None:
    pm = em.store.get("payment_method", pm_id, param=param, label="PaymentMethod")
    if pm.get("customer") != customer:
        raise invalid(
            f"The PaymentMethod {pm_id} does not belong to the Customer {customer}. Attach it first.", param
        )


def trial_settings(p: Params) -> dict[str, Any]:
    ts = p.sub("trial_settings")
    assert ts is not None
    eb = ts.sub("end_behavior", required=True)
    assert eb is not None
    mpm = eb.str("missing_payment_method", required=True, choices=("cancel", "create_invoice", "pause"))
    eb.done()
    ts.done()
    return {"end_behavior": {"billing_cycle_anchor": None, "missing_payment_method": mpm}}


def _pause_collection(p: Params) -> dict[str, Any] | None:
    if p.get("pause_collection") == "":
        return None
    pc = p.sub("pause_collection")
    assert pc is not None
    behavior = pc.str("behavior", required=True, choices=("keep_as_draft", "mark_uncollectible", "void"))
    resumes_at = pc.int("resumes_at", min=0)
    pc.done()
    return {"behavior": behavior, "resumes_at": resumes_at}


def restrict(p: Params, sub: dict[str, Any]) -> None:
    """Stripe's limits on what an incomplete, ended or schedule-managed subscription may change."""
    keys = set(p.raw) - {"expand"}
    if sub["status"] in ("canceled", "incomplete_expired") and keys - {"metadata", "cancellation_details"}:
        raise invalid("A canceled subscription can only update its cancellation_details and metadata.")
    if sub["status"] == "incomplete" and keys - {
        "metadata",
        "default_payment_method",
        "payment_behavior",
        "description",
    }:
        raise invalid(
            "A subscription with status incomplete can only update its metadata and "
            "default_payment_method, until its first invoice is paid."
        )
    # The schedule owns the end date (end_behavior, its last phase), so Stripe refuses any direct change.
    if sub.get("schedule") and keys & {"cancel_at", "cancel_at_period_end"}:
        raise StripeError(
            f"The subscription is managed by the subscription schedule `{sub['schedule']}`, and updating any "
            "cancelation behavior directly is not allowed. Please update the schedule instead."
        )


# --- applying ------------------------------------------------------------------------------------
def virtual_sub(
    em: Emulator, sub: dict[str, Any], spec: UpdateSpec, plan: Plan, at: int, discount_ids: list[str] | None
) -> dict[str, Any]:
    """The subscription as it will be after the change (not stored)."""
    virtual = copy.deepcopy(sub)
    virtual.update(spec.fields)
    virtual["items"] = {**sub["items"], "data": plan.items}
    virtual["billing_cycle_anchor"] = plan.anchor
    if discount_ids is not None:
        virtual["discounts"] = discount_ids
    if isinstance(spec.trial_end, int) and sub["status"] == "trialing":
        virtual["trial_end"] = virtual["billing_cycle_anchor"] = spec.trial_end
        virtual["items"]["data"] = with_period(plan.items, (sub_period(sub)[0], spec.trial_end))
    return virtual


def plan_for(em: Emulator, sub: dict[str, Any], spec: UpdateSpec, at: int) -> Plan:
    if spec.trial_end is not ABSENT and spec.trial_end != "now" and sub["status"] != "trialing":
        raise invalid("trial_end can only be changed while the subscription is trialing.", "trial_end")
    if isinstance(spec.trial_end, int) and spec.trial_end <= at:
        raise invalid("Invalid timestamp: trial_end must be in the future (or 'now').", "trial_end")
    return plan_change(
        em,
        sub,
        spec.items,
        at=at,
        proration_behavior=spec.proration_behavior,
        proration_date=spec.proration_date,
        anchor_now=spec.anchor_now,
    )


def dry_run(em: Emulator, sub: dict[str, Any], spec: UpdateSpec, plan: Plan, at: int) -> dict[str, Any]:
    """The invoice the change produces (a preview; nothing stored)."""
    dry: dict[str, dict[str, Any]] = {}
    ids = None
    if spec.discounts is not None:
        ids = apply_discounts(
            em, spec.discounts, at=at, customer=sub["customer"], subscription=sub["id"], dry=dry
        )
    virtual = virtual_sub(em, sub, spec, plan, at, ids)
    inv = plan_invoice(em, virtual, plan, at, preview=True, extra=plan.prorations)
    return compute(em, inv, apply_balance=True, extra=dry)


def precheck(em: Emulator, sub: dict[str, Any], spec: UpdateSpec, plan: Plan, at: int) -> None:
    """``error_if_incomplete``: refuse (402) before writing anything when the payment would fail."""
    if spec.payment_behavior != "error_if_incomplete" or not (plan.invoice_now or spec.trial_end == "now"):
        return
    inv = dry_run(em, sub, spec, plan, at)
    method = spec.fields.get("collection_method", sub["collection_method"])
    if inv["amount_due"] <= 0 or method != "charge_automatically":
        return
    pm_id = spec.fields.get("default_payment_method", ABSENT)
    virtual = {
        **sub,
        "default_payment_method": sub.get("default_payment_method") if pm_id is ABSENT else pm_id,
    }
    pm = payment_method_for(em, virtual)
    if pm is None:
        raise StripeError(NO_PM_MESSAGE, param="default_payment_method", code="resource_missing")
    ok, decline = predict(em, pm)
    if not ok:
        raise decline_error(decline or "generic_decline")


def apply_update(em: Emulator, sub: dict[str, Any], spec: UpdateSpec, at: int, req: Request | None) -> None:
    plan = plan_for(em, sub, spec, at)
    precheck(em, sub, spec, plan, at)
    ids = None
    if spec.discounts is not None:
        ids = apply_discounts(em, spec.discounts, at=at, customer=sub["customer"], subscription=sub["id"])
    virtual = virtual_sub(em, sub, spec, plan, at, ids)
    inv = (
        plan_invoice(em, virtual, plan, at, preview=False, extra=plan.prorations)
        if plan.invoice_now
        else None
    )
    changes = {
        k: virtual[k] for k in ("items", "billing_cycle_anchor", "trial_end", "discounts", *spec.fields)
    }
    if inv is not None:
        changes["latest_invoice"] = inv["id"]
    prev = em.update(sub, changes)
    if prev:
        em.emit("customer.subscription.updated", sub, prev, request=req)
    store_items(em, plan.prorations, req)
    if inv is not None:
        collect(em, sub, inv, at, req, behavior=spec.payment_behavior)
    if spec.trial_end == "now" and sub["status"] == "trialing":
        end_trial(em, sub, at, req, reset_anchor=True)
    maybe_trial_will_end(em, sub, at, req)
