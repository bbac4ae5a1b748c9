"""The invoice lifecycle: draft → open → paid | uncollectible | void, and payment attempts. Building an
invoice is ``invoice_build.py``, its totals ``invoice_totals.py``, the charge itself ``payments.py``, the
retry schedule ``dunning.py``; routes live in ``resources/invoices.py``. A subscription reacts to its
invoice's payment through ``em.hooks.invoice_paid`` / ``invoice_payment_failed`` (it sits above this
module). Every function takes ``at``, the unix time the change happens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .billing_common import DAY
from .dunning import schedule_after_failure
from .invoice_build import INVOICE_HOST
from .invoice_totals import compute
from .payments import charge, create_for_invoice

if TYPE_CHECKING:
    from .app import Emulator
    from .routing import Request

# --- lifecycle -----------------------------------------------------------------------------------
def insert(em: Emulator, inv: dict[str, Any]) -> dict[str, Any]:
    compute(em, inv)
    em.store.insert(inv)
    return inv


def finalize(em: Emulator, inv: dict[str, Any], at: int, req: Request | None) -> None:
    """draft → open (or straight to paid when nothing is due). Emits invoice.finalized (and paid)."""
    cust = em.store.objects[inv["customer"]]
    compute(em, inv)
    balance = int(cust.get("balance") or 0)
    combined = inv["total"] + balance
    changes = {
        "status": "open",
        "number": f"{cust.get('invoice_prefix') or 'EMU'}-{cust.get('next_invoice_sequence', 1):04d}",
        "starting_balance": balance,
        "ending_balance": min(0, combined),
        "amount_due": max(0, combined),
        "amount_remaining": max(0, combined),
        "effective_at": at,
        "hosted_invoice_url": f"{INVOICE_HOST}/i/{em.account_id}/{inv['id']}",
        "invoice_pdf": f"{INVOICE_HOST}/i/{em.account_id}/{inv['id']}/pdf",
        "status_transitions": {**inv["status_transitions"], "finalized_at": at},
    }
    if inv["collection_method"] == "send_invoice":
        changes["due_date"] = inv.get("due_date") or at + 30 * DAY
    inv.update(changes)
    cust["next_invoice_sequence"] = cust.get("next_invoice_sequence", 1) + 1
    if balance != min(0, combined):
        prev = em.update(cust, {"balance": min(0, combined)})
        em.emit("customer.updated", cust, prev, request=req)
    pi = create_for_invoice(em, inv, at, req, emit=False) if inv["amount_due"] > 0 else None
    em.emit("invoice.finalized", inv, request=req)  # carries the payment intent made at finalization
    if pi is not None:
        em.emit("payment_intent.created", pi, request=req)
    _use_once_discounts(em, inv, req)
    if pi is None:
        mark_paid(em, inv, at, req)


def _use_once_discounts(em: Emulator, inv: dict[str, Any], req: Request | None) -> None:
    """A ``once`` coupon is used up by the first invoice it discounts, and leaves the subscription."""
    for did in inv["discounts"]:
        disc = em.store.objects.get(did)
        if disc is None or disc.get("subscription") is None:
            continue
        coupon = em.store.objects[disc["source"]["coupon"]]
        if coupon["duration"] == "once" and any(d["discount"] == did for d in inv["total_discount_amounts"]):
            em.state.used_up_discounts.add(did)
            sub = em.store.objects.get(disc["subscription"])
            if sub is not None and did in sub["discounts"]:
                prev = em.update(sub, {"discounts": [d for d in sub["discounts"] if d != did]})
                em.emit("customer.subscription.updated", sub, prev, request=req)


def mark_paid(em: Emulator, inv: dict[str, Any], at: int, req: Request | None, *, out_of_band: bool = False) -> None:
    prev = em.update(
        inv,
        {
            "status": "paid",
            "amount_paid": inv["amount_due"],
            "amount_remaining": 0,
            "next_payment_attempt": None,
            "amount_paid_off_stripe": inv["amount_due"] if out_of_band else inv.get("amount_paid_off_stripe"),
            "status_transitions": {**inv["status_transitions"], "paid_at": at},
        },
    )
    for pay in inv["payments"]["data"]:
        if pay["status"] == "open":
            pay["status"] = "canceled" if out_of_band else "paid"
            pay["amount_paid"] = 0 if out_of_band else pay["amount_requested"]
            pay["status_transitions"]["canceled_at" if out_of_band else "paid_at"] = at
    del prev
    em.emit("invoice.paid", inv, request=req)
    em.emit("invoice.payment_succeeded", inv, request=req)
    for hook in list(em.hooks.invoice_paid):
        hook(em, inv, at, req)


def void(em: Emulator, inv: dict[str, Any], at: int, req: Request | None) -> None:
    _close_payment_intent(em, inv, at, req)
    prev = em.update(
        inv,
        {
            "status": "void",
            "amount_remaining": 0,
            "next_payment_attempt": None,
            "auto_advance": False,
            "status_transitions": {**inv["status_transitions"], "voided_at": at},
        },
    )
    em.emit("invoice.voided", inv, prev, request=req)
    em.emit("invoice.updated", inv, prev, request=req)


def mark_uncollectible(em: Emulator, inv: dict[str, Any], at: int, req: Request | None) -> None:
    prev = em.update(
        inv,
        {
            "status": "uncollectible",
            "next_payment_attempt": None,
            "auto_advance": False,
            "status_transitions": {**inv["status_transitions"], "marked_uncollectible_at": at},
        },
    )
    em.emit("invoice.marked_uncollectible", inv, prev, request=req)
    em.emit("invoice.updated", inv, prev, request=req)


def _close_payment_intent(em: Emulator, inv: dict[str, Any], at: int, req: Request | None) -> None:
    pi = em.store.objects.get(inv.get("payment_intent") or "")
    if pi is not None and pi["status"] not in ("succeeded", "canceled"):
        prev = em.update(pi, {"status": "canceled", "canceled_at": at, "cancellation_reason": "void_invoice"})
        em.emit("payment_intent.canceled", pi, prev, request=req)
    for pay in inv["payments"]["data"]:
        if pay["status"] == "open":
            pay["status"] = "canceled"
            pay["status_transitions"]["canceled_at"] = at


# --- payment attempts ----------------------------------------------------------------------------
def attempt(em: Emulator, inv: dict[str, Any], pm_id: str | None, at: int, req: Request | None, *,
            auto: bool = True) -> tuple[bool, str | None]:
    """Try to collect the open invoice on ``pm_id``. Returns (ok, decline_code); emits charge.*,
    payment_intent.*, then invoice.paid/payment_succeeded or invoice.payment_failed. With no payment
    method the intent stays ``requires_payment_method`` and no charge is made."""
    inv["attempted"] = True
    inv["attempt_count"] += 1
    if pm_id is None:
        _failed(em, inv, at, req, None, None, auto)
        return False, None
    ok, decline = charge(em, inv, pm_id, at, req)
    if ok:
        mark_paid(em, inv, at, req)
        return True, None
    _failed(em, inv, at, req, decline, pm_id, auto)
    return False, decline


def _failed(em: Emulator, inv: dict[str, Any], at: int, req: Request | None, decline: str | None,
            pm_id: str | None, auto: bool) -> None:
    final = schedule_after_failure(em, inv, at, decline, pm_id, auto=auto)
    em.emit("invoice.payment_failed", inv, request=req)
    for hook in list(em.hooks.invoice_payment_failed):
        hook(em, inv, at, req, final)
