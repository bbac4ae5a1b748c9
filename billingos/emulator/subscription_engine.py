"""What happens to subscriptions over their life: invoices for periods, collection, renewals, trial ends,
cancellation, expiry, and the status machine driven by invoice payments.

Statuses: incomplete → active | incomplete_expired; trialing → active | past_due | paused | canceled;
active ⇄ past_due → canceled | unpaid (``after_final_failure``); paused → active via ``/resume``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .billing_common import TRIAL_WILL_END_SECONDS, next_boundary
from .catalog import embedded_price, is_metered, live_price, plan_from_price
from .invoice_build import (
    attach_items,
    blank_invoice,
    cycle_description,
    new_line,
    pending_items,
    product_name,
    proration_description,
)
from .invoicing import attempt, finalize, insert, mark_uncollectible, void
from .metering import usage_quantity
from .proration import credit_items_for, store_items
from .rating import price_amount, round_line
from .store import new_id

if TYPE_CHECKING:
    from fractions import Fraction

    from .app import Emulator
    from .routing import Request

LIVE = ("active", "past_due", "unpaid", "trialing")


# --- items ---------------------------------------------------------------------------------------
def make_item(
    em: Emulator,
    sub_id: str,
    price: dict[str, Any],
    quantity: int | None,
    tax_rates: list[str],
    metadata: dict[str, str],
    at: int,
    period: tuple[int, int],
) -> dict[str, Any]:
    return {
        "id": new_id("si", 14),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": at,
        "current_period_end": period[1],
        "current_trial": None,
        "current_period_start": period[0],
        "discounts": [],
        "metadata": metadata,
        "plan": plan_from_price(price),
        "price": embedded_price(price),
        "quantity": None if is_metered(price) else quantity,
        "subscription": sub_id,
        "tax_rates": [copy.deepcopy(em.store.objects[r]) for r in tax_rates],
    }


def sub_period(sub: dict[str, Any]) -> tuple[int, int]:
    item = sub["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def sub_interval(sub_or_items: Any) -> tuple[str, int]:
    items = sub_or_items["items"]["data"] if isinstance(sub_or_items, dict) else sub_or_items
    rec = items[0]["price"]["recurring"]
    return rec["interval"], int(rec.get("interval_count") or 1)


def with_period(items: list[dict[str, Any]], period: tuple[int, int]) -> list[dict[str, Any]]:
    out = copy.deepcopy(items)
    for item in out:
        item["current_period_start"], item["current_period_end"] = period
    return out


def payment_method_for(em: Emulator, sub: dict[str, Any]) -> str | None:
    cust = em.store.objects[sub["customer"]]
    for pm_id in (
        sub.get("default_payment_method"),
        (cust.get("invoice_settings") or {}).get("default_payment_method"),
    ):
        pm = em.store.find(pm_id) if isinstance(pm_id, str) else None
        if pm is not None and pm.get("customer") == cust["id"]:
            return pm_id
    return None


# --- invoices for a subscription -----------------------------------------------------------------
def sub_invoice(
    em: Emulator, sub: dict[str, Any], at: int, reason: str, period: tuple[int, int], preview: bool = False
) -> dict[str, Any]:
    cust = em.store.objects[sub["customer"]]
    return blank_invoice(
        em,
        cust,
        at=at,
        billing_reason=reason,
        subscription=sub,
        collection_method=sub["collection_method"],
        days_until_due=sub.get("days_until_due"),
        period=period,
        default_tax_rates=[r["id"] for r in sub.get("default_tax_rates") or []],
        discounts=list(sub.get("discounts") or []),
        currency=sub["currency"],
        preview=preview,
    )


def period_lines(
    em: Emulator,
    inv: dict[str, Any],
    sub_id: str,
    items: list[dict[str, Any]],
    period: tuple[int, int],
    *,
    trial: bool = False,
    fraction: Fraction | None = None,
) -> None:
    """Full-period (or, with ``fraction``, prorated) lines for the licensed items."""
    for item in items:
        price = live_price(em, item)
        if is_metered(price):
            continue
        qty = item["quantity"]
        amount = 0 if trial else price_amount(price, qty)
        desc = f"Trial period for {product_name(em, price)}" if trial else cycle_description(em, price, qty)
        if fraction is not None and not trial:
            amount = round_line(amount * fraction)
            desc = proration_description(em, price, qty, period[0], credit=False)
        rates = [r["id"] for r in item.get("tax_rates") or []] or [r["id"] for r in inv["default_tax_rates"]]
        inv["lines"]["data"].append(
            new_line(
                inv,
                amount=amount,
                description=desc,
                period=period,
                price=price,
                quantity=qty,
                tax_rates=rates,
                subscription=sub_id,
                subscription_item=item["id"],
                proration=fraction is not None,
            )
        )


def metered_lines(
    em: Emulator, inv: dict[str, Any], sub_id: str, items: list[dict[str, Any]], period: tuple[int, int]
) -> None:
    """Usage of the metered items over ``period`` (billed in arrears): their meters' aggregation."""
    for item in items:
        price = live_price(em, item)
        if not is_metered(price):
            continue
        qty = usage_quantity(em, item, period[0], period[1])
        rates = [r["id"] for r in item.get("tax_rates") or []] or [r["id"] for r in inv["default_tax_rates"]]
        inv["lines"]["data"].append(
            new_line(
                inv,
                amount=price_amount(price, qty),
                description=cycle_description(em, price, qty),
                period=period,
                price=price,
                quantity=qty,
                tax_rates=rates,
                subscription=sub_id,
                subscription_item=item["id"],
            )
        )


def cycle_invoice(
    em: Emulator,
    sub: dict[str, Any],
    *,
    at: int,
    items: list[dict[str, Any]],
    new_period: tuple[int, int],
    old_period: tuple[int, int] | None,
    reason: str,
    extra_items: list[dict[str, Any]] | None = None,
    preview: bool = False,
) -> dict[str, Any]:
    """The invoice a subscription makes at ``at``: pending items, the new period, last period's usage."""
    inv = sub_invoice(em, sub, at, reason, new_period, preview)
    pend = pending_items(em, sub["customer"], sub["id"]) + list(extra_items or [])
    attach_items(em, inv, pend, claim=False)
    period_lines(em, inv, sub["id"], items, new_period)
    if old_period is not None:
        metered_lines(em, inv, sub["id"], items, old_period)
    inv["period_start"], inv["period_end"] = old_period or new_period
    return inv


def collect(
    em: Emulator,
    sub: dict[str, Any],
    inv: dict[str, Any],
    at: int,
    req: Request | None,
    *,
    behavior: str = "allow_incomplete",
) -> None:
    """Store ``inv`` (claiming its pending items), emit invoice.created, finalize and try to collect."""
    for line in inv["lines"]["data"]:
        ii_id = _line_invoice_item(line)
        if ii_id is not None and ii_id in em.store.objects:
            em.store.objects[ii_id]["invoice"] = inv["id"]
    pause = (sub.get("pause_collection") or {}).get("behavior")
    if pause == "keep_as_draft" or sub["status"] == "unpaid":
        inv["auto_advance"] = False         # kept as a draft / closed without collection attempts
    insert(em, inv)
    em.emit("invoice.created", inv, request=req)
    if pause == "keep_as_draft":
        return
    finalize(em, inv, at, req)
    if pause in ("mark_uncollectible", "void") and inv["status"] == "open":
        (mark_uncollectible if pause == "mark_uncollectible" else void)(em, inv, at, req)
        return
    if inv["status"] != "open" or sub["collection_method"] == "send_invoice":
        return
    if behavior == "default_incomplete":
        if sub["status"] in ("active", "trialing"):
            set_status(em, sub, "past_due", req)
        return
    if sub["status"] == "unpaid":
        return
    attempt(em, inv, payment_method_for(em, sub), at, req, auto=True)


def _line_invoice_item(line: dict[str, Any]) -> str | None:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    return details.get("invoice_item")


def set_status(em: Emulator, sub: dict[str, Any], status: str, req: Request | None, **extra: Any) -> None:
    prev = em.update(sub, {"status": status, **extra})
    if prev:
        em.emit("customer.subscription.updated", sub, prev, request=req)


# --- reactions to invoices -----------------------------------------------------------------------
def _unpaid_invoices(em: Emulator, sub: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        i
        for i in em.store.all("invoice")
        if i["subscription"] == sub["id"] and i["status"] == "open" and i["amount_remaining"] > 0
    ]


def on_invoice_paid(em: Emulator, inv: dict[str, Any], at: int, req: Request | None) -> None:
    sub = em.store.objects.get(inv.get("subscription") or "")
    if sub is None or sub["status"] not in ("incomplete", "past_due", "unpaid"):
        return
    if _unpaid_invoices(em, sub):
        return
    trialing = sub.get("trial_end") is not None and sub["trial_end"] > at
    set_status(em, sub, "trialing" if trialing else "active", req)


def on_invoice_failed(em: Emulator, inv: dict[str, Any], at: int, req: Request | None, final: bool) -> None:
    sub = em.store.objects.get(inv.get("subscription") or "")
    if sub is None or sub["status"] not in LIVE:
        return
    if final:
        final_failure(em, sub, inv, at, req)
    elif sub["status"] in ("active", "trialing"):
        set_status(em, sub, "past_due", req)


def final_failure(
    em: Emulator, sub: dict[str, Any], inv: dict[str, Any], at: int, req: Request | None
) -> None:
    action = em.settings.after_final_failure
    if action == "cancel":
        cancel_now(em, sub, at, req, reason="payment_failed")
        if inv["status"] == "open":
            mark_uncollectible(em, inv, at, req)
    elif action == "unpaid":
        set_status(em, sub, "unpaid", req)
    elif sub["status"] in ("active", "trialing"):     # "leave past-due": with retries off the first failure is final
        set_status(em, sub, "past_due", req)


# --- cancellation --------------------------------------------------------------------------------
def cancel_now(
    em: Emulator,
    sub: dict[str, Any],
    at: int,
    req: Request | None,
    *,
    reason: str | None,
    invoice_now: bool = False,
    prorate: bool = False,
    comment: str | None = None,
    feedback: str | None = None,
) -> None:
    start, end = sub_period(sub)
    credits = (
        credit_items_for(em, sub, sub["items"]["data"], at, (start, end))
        if prorate and sub["status"] in ("active", "past_due")
        else []
    )
    _stop_collection(em, sub, at, req)
    if not invoice_now:
        for ii in pending_items(em, sub["customer"], sub["id"], only_subscription=True):
            em.store.delete(ii["id"])
            em.emit("invoiceitem.deleted", ii, request=req)
    details = {"comment": comment, "feedback": feedback, "feedback_option": None, "reason": reason}
    prev = em.update(
        sub,
        {
            "status": "canceled",
            "canceled_at": sub.get("canceled_at") or at,
            "ended_at": at,
            "cancel_at": sub.get("cancel_at") if sub.get("cancel_at") and sub["cancel_at"] <= at else None,
            "cancellation_details": details,
        },
    )
    del prev
    em.emit("customer.subscription.deleted", sub, request=req)
    store_items(em, credits, req)
    if invoice_now:
        inv = sub_invoice(em, sub, at, "subscription_update", (start, at))
        attach_items(
            em, inv, pending_items(em, sub["customer"], sub["id"], only_subscription=True), claim=False
        )
        metered_lines(em, inv, sub["id"], sub["items"]["data"], (start, at))
        if inv["lines"]["data"]:
            sub["latest_invoice"] = inv["id"]
            collect(em, sub, inv, at, req)


def _stop_collection(em: Emulator, sub: dict[str, Any], at: int, req: Request | None) -> None:
    for inv in em.store.all("invoice"):
        if inv["subscription"] != sub["id"] or inv["status"] not in ("open", "draft"):
            continue
        if sub["status"] == "incomplete" and inv["status"] == "open":
            void(em, inv, at, req)
            continue
        prev = em.update(inv, {"auto_advance": False, "next_payment_attempt": None})
        if prev:
            em.emit("invoice.updated", inv, prev, request=req)


# --- time-driven transitions ---------------------------------------------------------------------
def renew(em: Emulator, sub: dict[str, Any], at: int) -> None:
    """The period ended at ``at``: cancel if scheduled, else start the next period and invoice it."""
    start, end = sub_period(sub)
    if sub.get("cancel_at") is not None and sub["cancel_at"] <= end:
        cancel_now(
            em,
            sub,
            sub["cancel_at"],
            None,
            reason=(sub.get("cancellation_details") or {}).get("reason") or "cancellation_requested",
            comment=(sub.get("cancellation_details") or {}).get("comment"),
            feedback=(sub.get("cancellation_details") or {}).get("feedback"),
        )
        return
    interval, count = sub_interval(sub)
    new_period = (end, next_boundary(sub["billing_cycle_anchor"], interval, count, end))
    items = with_period(sub["items"]["data"], new_period)
    inv = cycle_invoice(
        em,
        sub,
        at=end,
        items=items,
        new_period=new_period,
        old_period=(start, end),
        reason="subscription_cycle",
    )
    prev = em.update(sub, {"items": {**sub["items"], "data": items}, "latest_invoice": inv["id"]})
    em.emit("customer.subscription.updated", sub, prev)
    collect(em, sub, inv, end, None)


def end_trial(
    em: Emulator, sub: dict[str, Any], at: int, req: Request | None = None, *, reset_anchor: bool = False
) -> None:
    """The trial ends at ``at``: charge the first paid period, or apply the missing-payment-method rule."""
    behavior = ((sub.get("trial_settings") or {}).get("end_behavior") or {}).get(
        "missing_payment_method", "create_invoice"
    )
    if payment_method_for(em, sub) is None and sub["collection_method"] == "charge_automatically":
        if behavior == "cancel":
            cancel_now(em, sub, at, req, reason="cancellation_requested")
            return
        if behavior == "pause":
            set_status(em, sub, "paused", req, trial_end=at if reset_anchor else sub["trial_end"])
            em.emit("customer.subscription.paused", sub, request=req)
            return
    anchor = at if reset_anchor else sub["billing_cycle_anchor"]
    interval, count = sub_interval(sub)
    new_period = (at, next_boundary(anchor, interval, count, at))
    items = with_period(sub["items"]["data"], new_period)
    reason = "subscription_update" if reset_anchor else "subscription_cycle"
    inv = cycle_invoice(em, sub, at=at, items=items, new_period=new_period, old_period=None, reason=reason)
    changes = {
        "status": "active",
        "items": {**sub["items"], "data": items},
        "latest_invoice": inv["id"],
        "billing_cycle_anchor": anchor,
    }
    if reset_anchor:
        changes["trial_end"] = at
    prev = em.update(sub, changes)
    em.emit("customer.subscription.updated", sub, prev, request=req)
    collect(em, sub, inv, at, req)


def expire_incomplete(em: Emulator, sub: dict[str, Any], at: int) -> None:
    inv = em.store.objects.get(sub.get("latest_invoice") or "")
    if inv is not None and inv["status"] == "open":
        void(em, inv, at, None)
    set_status(em, sub, "incomplete_expired", None, ended_at=at)


def trial_will_end(em: Emulator, sub: dict[str, Any], req: Request | None = None) -> None:
    em.state.subscription(sub["id"]).trial_will_end_for = sub["trial_end"]
    em.emit("customer.subscription.trial_will_end", sub, request=req)


def maybe_trial_will_end(em: Emulator, sub: dict[str, Any], at: int, req: Request | None) -> None:
    """Sent 3 days before the trial ends; at once if the trial is shorter than that."""
    if sub["status"] != "trialing" or sub.get("trial_end") is None:
        return
    if em.state.peek_subscription(sub["id"]).trial_will_end_for == sub["trial_end"]:
        return
    if sub["trial_end"] - TRIAL_WILL_END_SECONDS <= at < sub["trial_end"]:
        trial_will_end(em, sub, req)
