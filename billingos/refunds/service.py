"""Refunds and credit notes of invoices: Stripe first, then the invoice's local copy refreshed.

A refund gives money back on the invoice's payment (its PaymentIntent); a credit note documents a
reduction: on an open invoice it lowers what is owed, on a paid one its amount is refunded or credited to
the customer's balance. Both are checked against what is left before Stripe is called, so a bad amount is
an InvalidInputError naming the parameter, and nothing is written.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from .. import validation
from ..actor import Actor, parse_actor
from ..errors import ConflictError, InvalidInputError, NotFoundError
from ..freshness import apply_fresh
from ..stripe_api import call_stripe, intent_key, plain
from .schemas import CreditNote, Refund, Refundable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..audit import AuditService
    from ..context import Context
    from ..invoices import Invoice, InvoiceService

__all__ = ["CREDIT_NOTE_REASONS", "REFUND_REASONS", "SETTLEMENTS", "RefundService"]

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CREDIT_NOTE_REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")
SETTLEMENTS = ("refund", "credit")      # a paid invoice's credit note: money back, or customer balance
MAX_AMOUNT = 99_999_999_999


class RefundService:
    def __init__(self, ctx: Context, *, invoices: InvoiceService, audit: AuditService) -> None:
        self._ctx = ctx
        self._invoices = invoices
        self._audit = audit

    # --- reads -----------------------------------------------------------------------------------
    def refundable(self, invoice_id: str) -> Refundable:
        """What ``invoice_id`` can still give back (read from Stripe: its payment and its credit notes)."""
        invoice = self._invoices.get(invoice_id)
        intent = self._payment_intent(invoice_id)
        paid = refunded = 0
        if intent is not None:
            charge = intent.get("latest_charge")
            if isinstance(charge, str):
                charge = plain(call_stripe(self._ctx.stripe.v1.charges.retrieve, charge))
            if isinstance(charge, dict) and charge.get("status") == "succeeded":
                paid, refunded = int(charge["amount"]), int(charge.get("amount_refunded") or 0)
        credited = sum(n.amount for n in self.credit_notes(invoice_id) if n.status == "issued")
        return Refundable(invoice=invoice.id, currency=invoice.currency, status=invoice.status, paid=paid,
                          refunded=refunded, refund=max(0, paid - refunded), credited=credited,
                          credit=max(0, invoice.total - credited) if invoice.status not in ("draft", "void") else 0,
                          owed=invoice.amount_remaining if invoice.status == "open" else 0)

    def list(self, invoice_id: str) -> builtins.list[Refund]:
        """The refunds of the invoice's payment, newest first."""
        validation.stripe_id(invoice_id, "in", "invoice_id")
        intent = self._payment_intent(invoice_id)
        if intent is None:
            return []
        found = call_stripe(self._ctx.stripe.v1.refunds.list, params={"payment_intent": intent["id"], "limit": 100})
        return [Refund.from_stripe(plain(r), invoice_id) for r in found.data]

    def credit_notes(self, invoice_id: str) -> builtins.list[CreditNote]:
        validation.stripe_id(invoice_id, "in", "invoice_id")
        found = call_stripe(self._ctx.stripe.v1.credit_notes.list, params={"invoice": invoice_id, "limit": 100})
        return [CreditNote.from_stripe(plain(n)) for n in found.data]

    # --- writes ----------------------------------------------------------------------------------
    def create(self, invoice_id: str, *, amount: int | None = None, reason: str | None = None,
               actor: Actor | None = None) -> Refund:
        """Refund the invoice's payment: all that is left (``amount`` None) or ``amount`` minor units.
        Audited (``invoice.refunded``) with ``actor`` in the transaction that refreshes the invoice."""
        validation.stripe_id(invoice_id, "in", "invoice_id")
        who = parse_actor(actor)
        if amount is not None:
            validation.integer(amount, "amount", minimum=1, maximum=MAX_AMOUNT)
        if reason is not None:
            validation.choice(reason, "reason", REFUND_REASONS)
        left = self.refundable(invoice_id)
        if left.paid == 0:
            raise ConflictError(f"Invoice {invoice_id} has no successful payment to refund.", param="invoice_id")
        if left.refund == 0:
            raise ConflictError(f"Invoice {invoice_id} is already refunded in full.", param="invoice_id")
        if amount is not None and amount > left.refund:
            raise InvalidInputError(f"amount must be at most {left.refund} (what is left to refund), got {amount}.",
                                    param="amount")
        intent = self._payment_intent(invoice_id)
        assert intent is not None
        take = left.refund if amount is None else amount
        params: dict[str, Any] = {"payment_intent": intent["id"], "amount": take,
                                  "metadata": {"billingos_invoice": invoice_id}}
        if reason is not None:
            params["reason"] = reason
        refund = call_stripe(self._ctx.stripe.v1.refunds.create, params=params, options={
            "idempotency_key": intent_key("refund.create", invoice_id, take, left.refunded)})
        done = Refund.from_stripe(plain(refund), invoice_id)
        self._refresh_invoice(invoice_id, who, "invoice.refunded", {"refund": done.id, "amount": done.amount,
                                                                    "currency": done.currency, "reason": reason})
        return done

    def credit_note(self, invoice_id: str, *, amount: int, reason: str | None = None, memo: str | None = None,
                    settle: str = "refund", actor: Actor | None = None) -> CreditNote:
        """Issue a credit note for ``amount`` minor units. On an open invoice it lowers what is owed first;
        the part above that (a paid invoice's whole amount) is refunded (``settle="refund"``) or credited to
        the customer's balance (``settle="credit"``). Audited (``invoice.credit_note_issued``)."""
        validation.stripe_id(invoice_id, "in", "invoice_id")
        who = parse_actor(actor)
        validation.integer(amount, "amount", minimum=1, maximum=MAX_AMOUNT)
        if reason is not None:
            validation.choice(reason, "reason", CREDIT_NOTE_REASONS)
        memo = validation.text(memo, "memo", max_length=500, multiline=True)
        validation.choice(settle, "settle", SETTLEMENTS)
        left = self.refundable(invoice_id)
        if left.status in ("draft", "void", None):
            raise ConflictError(f"Invoice {invoice_id} is {left.status or 'not finalized'}: only finalized "
                                "invoices that are not void take credit notes.", param="invoice_id")
        if amount > left.credit:
            raise InvalidInputError(f"amount must be at most {left.credit} (what is left to credit), got {amount}.",
                                    param="amount")
        post = amount - min(amount, left.owed)
        if settle == "refund" and post > left.refund:
            raise InvalidInputError(f"Only {left.refund} can still be refunded on this invoice: credit the rest "
                                    "to the customer's balance instead.", param="settle")
        params: dict[str, Any] = {"invoice": invoice_id, "amount": amount}
        if post:
            params["refund_amount" if settle == "refund" else "credit_amount"] = post
        if reason is not None:
            params["reason"] = reason
        if memo is not None:
            params["memo"] = memo
        note = call_stripe(self._ctx.stripe.v1.credit_notes.create, params=params, options={
            "idempotency_key": intent_key("credit_note.create", invoice_id, amount, settle, left.credited)})
        issued = CreditNote.from_stripe(plain(note))
        self._refresh_invoice(invoice_id, who, "invoice.credit_note_issued", {
            "credit_note": issued.id, "amount": issued.amount, "currency": issued.currency, "settle": settle,
            "reason": reason})
        return issued

    def _refresh_invoice(self, invoice_id: str, actor: Actor, action: str, after: dict[str, Any]) -> Invoice:
        """Fetch the invoice and apply it locally (never over a newer state), with the audit entry of what
        was done to it in the same transaction."""
        def fetch(name: str) -> dict[str, Any]:
            obj = self._invoices.fetch(name)
            if obj is None:
                raise NotFoundError(f"Invoice {name} is gone in Stripe.", param="invoice_id")
            return obj

        def apply(session: Session, obj: dict[str, Any]) -> Invoice:
            invoice = self._invoices.apply(session, obj)
            self._audit.record(session, actor=actor, action=action, target_type="invoice", target_id=invoice_id,
                               owner_id=invoice.owner_id, after=after)
            return invoice

        return apply_fresh(self._ctx, lambda: fetch(invoice_id), apply, refetch=fetch, name=invoice_id)

    def _payment_intent(self, invoice_id: str) -> dict[str, Any] | None:
        """The invoice's paid PaymentIntent (Stripe's ``invoice.payments``), or None."""
        obj = self._invoices.fetch(invoice_id)
        if obj is None:
            raise NotFoundError(f"No invoice {invoice_id!r} in Stripe.", param="invoice_id")
        payments = (obj.get("payments") or {}).get("data") or []
        for pay in payments:
            target = (pay.get("payment") or {}).get("payment_intent")
            if pay.get("status") == "paid" and target:
                pid = target if isinstance(target, str) else target.get("id")
                return plain(call_stripe(self._ctx.stripe.v1.payment_intents.retrieve, pid))
        pid = obj.get("payment_intent")
        if isinstance(pid, str):
            intent = plain(call_stripe(self._ctx.stripe.v1.payment_intents.retrieve, pid))
            return intent if intent.get("status") == "succeeded" else None
        return None
