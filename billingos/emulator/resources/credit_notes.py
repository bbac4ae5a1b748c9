"""Credit notes: create, preview (and its lines), retrieve, update, list, lines, void.

Creating one first lowers what the invoice still owes (``pre_payment_amount``: ``amount_due`` and
``amount_remaining`` drop, and an invoice that then owes nothing is paid); the rest
(``post_payment_amount``) is refunded to the card (``refund_amount``, through ``refunds.py``), credited to
the customer's balance (``credit_amount``, a ``customer_balance_transaction``) or recorded as settled
outside Stripe (``out_of_band_amount``). The invoice's ``pre_payment_credit_notes_amount`` and
``post_payment_credit_notes_amount`` follow. Voiding undoes the invoice and balance parts; a credit
note with a refund cannot be voided (the money has left). Amounts come from ``credit_note_math.plan``,
which preview uses too, so a preview equals the credit note a create then makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid
from ..invoicing import mark_paid
from ..routing import Request
from ..store import matches_range
from .credit_note_math import invoice_charge, plan
from .customer_balance import record
from .refunds import refund_charge

if TYPE_CHECKING:
    from ..app import Emulator

LABEL = "credit note"


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/credit_notes", create)
    r.add("GET", "/v1/credit_notes", list_)
    r.add("GET", "/v1/credit_notes/preview", preview)
    r.add("GET", "/v1/credit_notes/preview/lines", preview_lines)
    r.add("GET", "/v1/credit_notes/{id}", retrieve)
    r.add("POST", "/v1/credit_notes/{id}", update)
    r.add("GET", "/v1/credit_notes/{id}/lines", lines)
    r.add("POST", "/v1/credit_notes/{id}/void", void)


def create(em: Emulator, req: Request) -> dict[str, Any]:

    planned = plan(em, req.params, preview=False)
    req.params.done()
    note, inv = planned.note, planned.invoice
    em.store.insert(note)
    if planned.refund_amount:
        charge = invoice_charge(em, inv)
        assert charge is not None          # plan() checked it
        refund = refund_charge(em, charge, planned.refund_amount, req)
        note["refunds"].append(_refund_entry(refund["id"], planned.refund_amount))
    for refund, amount in planned.refund_links:
        note["refunds"].append(_refund_entry(refund["id"], amount))
    if planned.credit_amount:
        cust = em.store.objects[inv["customer"]]
        txn = record(em, cust, -planned.credit_amount, note["currency"], req, kind="credit_note",
                     credit_note=note["id"], invoice=inv["id"])
        note["customer_balance_transaction"] = txn["id"]
    em.emit("credit_note.created", note, request=req)
    _adjust_invoice(em, inv, note, req, sign=1)
    return note


def _refund_entry(refund_id: str, amount: int) -> dict[str, Any]:
    return {"amount_refunded": amount, "payment_record_refund": None, "refund": refund_id, "type": "refund"}


def _adjust_invoice(em: Emulator, inv: dict[str, Any], note: dict[str, Any], req: Request | None, *,
                    sign: int) -> None:
    """Apply (sign=1) or undo (sign=-1) a credit note's effect on its invoice."""

    pre, post = note["pre_payment_amount"], note["post_payment_amount"]
    changes: dict[str, Any] = {
        "pre_payment_credit_notes_amount": inv["pre_payment_credit_notes_amount"] + sign * pre,
        "post_payment_credit_notes_amount": inv["post_payment_credit_notes_amount"] + sign * post,
    }
    if pre:
        changes["amount_due"] = inv["amount_due"] - sign * pre
        changes["amount_remaining"] = inv["amount_remaining"] - sign * pre
    previous = em.update(inv, changes)
    pi = em.store.find(inv.get("payment_intent") or "")
    if pre and pi is not None and pi["status"] in ("requires_payment_method", "requires_confirmation",
                                                   "requires_action") and inv["amount_remaining"] > 0:
        pi["amount"] = inv["amount_remaining"]
    em.emit("invoice.updated", inv, previous, request=req)
    if sign > 0 and pre and inv["status"] in ("open", "uncollectible") and inv["amount_remaining"] == 0:
        at = em.now(inv)
        if pi is not None and pi["status"] not in ("succeeded", "canceled"):
            prev_pi = em.update(pi, {"status": "canceled", "canceled_at": at, "cancellation_reason": "automatic"})
            em.emit("payment_intent.canceled", pi, prev_pi, request=req)
        for pay in inv["payments"]["data"]:
            if pay["status"] == "open":
                pay["status"] = "canceled"
                pay["status_transitions"]["canceled_at"] = at
        inv["status"] = "open"             # an uncollectible invoice credited in full is paid too
        mark_paid(em, inv, at, req)


def preview(em: Emulator, req: Request) -> dict[str, Any]:
    return plan(em, req.params, preview=True).note


def preview_lines(em: Emulator, req: Request) -> dict[str, Any]:
    note = plan(em, req.params, preview=True).note
    return em.store.page(req.params, list(reversed(note["lines"]["data"])), "/v1/credit_notes/preview/lines")


def _get(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("credit_note", req.args["id"], label=LABEL)


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    req.params.done()
    return _get(em, req)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    note = _get(em, req)
    p = req.params
    changes: dict[str, Any] = {}
    if p.has("memo"):
        changes["memo"] = p.str("memo", nullable=True, max_length=5000)
    if p.has("metadata"):
        changes["metadata"] = p.metadata(note["metadata"])
    p.done()
    previous = em.update(note, changes)
    if previous:
        em.emit("credit_note.updated", note, previous, request=req)
    return note


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, invoice, created = p.str("customer"), p.str("invoice"), p.get("created")
    p.str("customer_account")
    items = em.store.all("credit_note")
    if customer is not None:
        items = [c for c in items if c["customer"] == customer]
    if invoice is not None:
        items = [c for c in items if c["invoice"] == invoice]
    if created is not None:
        items = [c for c in items if matches_range(c["created"], created, "created")]
    return em.store.page(p, items, "/v1/credit_notes")


def lines(em: Emulator, req: Request) -> dict[str, Any]:
    note = _get(em, req)
    return em.store.page(req.params, list(reversed(note["lines"]["data"])), f"/v1/credit_notes/{note['id']}/lines")


def void(em: Emulator, req: Request) -> dict[str, Any]:

    note = _get(em, req)
    req.params.done()
    inv = em.store.objects[note["invoice"]]
    if note["status"] == "void":
        raise StripeError(f"Credit note {note['id']} has already been voided.")
    if note["refunds"]:
        raise StripeError("A credit note with a refund cannot be voided: the refund has already been sent.")
    if note["pre_payment_amount"] and inv["status"] not in ("open", "uncollectible"):
        raise invalid(f"This credit note lowered what invoice {inv['id']} owed, and that invoice is now "
                      f"{inv['status']}; it can only be voided while the invoice is open.",
                      code="invoice_not_editable")
    if note["customer_balance_transaction"]:
        txn = em.store.objects[note["customer_balance_transaction"]]
        record(em, em.store.objects[note["customer"]], -txn["amount"], note["currency"], req, kind="credit_note",
               description=f"Void of credit note {note['number']}", credit_note=note["id"], invoice=inv["id"])
    previous = em.update(note, {"status": "void", "voided_at": em.now(inv)})
    em.emit("credit_note.voided", note, previous, request=req)
    _adjust_invoice(em, inv, note, req, sign=-1)
    return note
