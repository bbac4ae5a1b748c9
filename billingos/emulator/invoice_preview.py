"""``POST /v1/invoices/create_preview``: the invoice a subscription change (or a new subscription, or the
customer's pending items) would produce, computed by the very code that then makes the real invoice.

- ``subscription`` (+ ``subscription_details``): the immediate invoice when the change invoices now
  (``always_invoice``, a new billing cycle), else the next renewal invoice with the change's prorations.
- ``customer`` + ``subscription_details[items]``: the first invoice of a new subscription.
- ``customer`` alone: an invoice of the customer's pending invoice items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .billing_common import ABSENT, timestamp_param
from .discounts import apply_discounts, resolve_discounts
from .errors import StripeError, invalid
from .invoice_build import attach_items, blank_invoice, pending_items
from .invoice_totals import compute
from .params import Params
from .subscription_changes import parse_item_changes, tax_rate_ids
from .subscription_create import blank_subscription, first_invoice, set_periods
from .subscription_update import UpdateSpec, dry_run, parse_cancel, plan_for

if TYPE_CHECKING:
    from .app import Emulator
    from .routing import Request

_UNSUPPORTED = ("billing_mode", "billing_schedules", "cancel_now", "pause", "resume_at", "start_date")


def preview(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    sub_id, cust_id = p.str("subscription"), p.str("customer")
    p.get("currency")
    for key in (
        "automatic_tax",
        "customer_details",
        "issuer",
        "on_behalf_of",
        "schedule",
        "schedule_details",
        "invoice_items",
        "customer_account",
    ):
        if p.get(key) not in (None, "", {}):
            raise invalid(f"{key} is not supported by the billingos emulator's create_preview.", key)
    p.str("preview_mode", choices=("next", "recurring"))
    details = p.sub("subscription_details")
    if sub_id is not None:
        sub = em.store.get("subscription", sub_id, param="subscription")
        if cust_id is not None and cust_id != sub["customer"]:
            raise invalid(f"The subscription {sub_id} does not belong to customer {cust_id}.", "customer")
        return _subscription_preview(em, p, sub, details)
    if cust_id is None:
        raise StripeError(
            "Missing required param: customer (or subscription).", param="customer", code="parameter_missing"
        )
    cust = em.store.get("customer", cust_id, param="customer")
    if details is not None:
        return _new_subscription_preview(em, p, cust, details)
    p.get("discounts")
    p.done()
    at = em.now(cust)
    inv = blank_invoice(em, cust, at=at, billing_reason="upcoming", preview=True)
    attach_items(em, inv, pending_items(em, cust["id"], None), claim=False)
    if not inv["lines"]["data"]:
        raise invalid("Nothing to invoice for customer", "customer", code="invoice_upcoming_none")
    return compute(em, inv, apply_balance=True)


def _subscription_preview(
    em: Emulator, p: Params, sub: dict[str, Any], details: Params | None
) -> dict[str, Any]:
    at = em.now(sub)
    spec = UpdateSpec()
    if details is not None:
        for key in _UNSUPPORTED:
            if details.get(key) not in (None, ""):
                raise invalid(
                    f"subscription_details[{key}] is not supported by the billingos emulator.",
                    f"subscription_details[{key}]",
                )
        spec.items = parse_item_changes(em, details, "items")
        spec.proration_behavior = details.str(
            "proration_behavior",
            choices=("always_invoice", "create_prorations", "none"),
            default="create_prorations",
        )
        spec.proration_date = details.int("proration_date", min=0)
        spec.anchor_now = details.str("billing_cycle_anchor", choices=("now", "unchanged")) == "now"
        parse_cancel(details, sub, at, spec.fields)
        if details.has("default_tax_rates"):
            spec.fields["default_tax_rates"] = [
                em.store.objects[r] for r in tax_rate_ids(em, details, "default_tax_rates") or []
            ]
        spec.trial_end = timestamp_param(details, "trial_end", allow_now=True)
        details.get("metadata")
        details.done()
    spec.discounts = resolve_discounts(em, p, "discounts", sub["customer"], at)
    p.done()
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid(
            "No upcoming invoices for a canceled subscription.", "subscription", code="invoice_upcoming_none"
        )
    if spec.trial_end is not ABSENT:
        raise invalid(
            "subscription_details[trial_end] is not supported in previews by the billingos emulator.",
            "subscription_details[trial_end]",
        )
    plan = plan_for(em, sub, spec, at)
    return dry_run(em, sub, spec, plan, at)


def _new_subscription_preview(
    em: Emulator, p: Params, cust: dict[str, Any], details: Params
) -> dict[str, Any]:
    at = em.now(cust)
    changes = parse_item_changes(em, details, "items", create=True)
    if not changes:
        raise StripeError(
            "Missing required param: subscription_details[items].",
            param="subscription_details[items]",
            code="parameter_missing",
        )
    te = timestamp_param(details, "trial_end", allow_now=True)
    anchor = details.int("billing_cycle_anchor", min=0)
    behavior = details.str(
        "proration_behavior",
        choices=("always_invoice", "create_prorations", "none"),
        default="create_prorations",
    )
    rates = tax_rate_ids(em, details, "default_tax_rates") or []
    details.get("metadata")
    details.done()
    specs = resolve_discounts(em, p, "discounts", cust["id"], at) or []
    p.done()
    sub = blank_subscription(cust, at)
    sub["default_tax_rates"] = [em.store.objects[r] for r in rates]
    opts = {
        "at": at,
        "changes": changes,
        "proration_behavior": behavior,
        "trial_end": None if te in (ABSENT, "now") else te,
    }
    set_periods(em, sub, opts, anchor)
    dry: dict[str, dict[str, Any]] = {}
    sub["discounts"] = apply_discounts(em, specs, at=at, customer=cust["id"], subscription=sub["id"], dry=dry)
    inv = first_invoice(em, sub, opts, True)
    inv["subscription"] = None
    inv["billing_reason"] = "upcoming"
    return compute(em, inv, apply_balance=True, extra=dry)
