"""Invoices: one invoice with its refunds and credit notes; a refund (full or partial) and a credit note,
each shown on a confirmation page first and done by a CSRF-checked POST through ``billing.refunds``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import InvalidInputError, NotFoundError
from ...refunds import CREDIT_NOTE_REASONS, REFUND_REASONS, SETTLEMENTS
from ..results import Redirect, Result
from .common import actor, decimal_text, minor_units, optional, page

if TYPE_CHECKING:
    from ...invoices import Invoice
    from ..core import PageContext


def _invoice(ctx: PageContext) -> Invoice:
    iid = ctx.params["invoice_id"]
    ctx.admin    # noqa: B018
    if not iid.startswith("in_"):
        raise NotFoundError("No such invoice.")
    return ctx.billing.invoices.get(iid)


def detail(ctx: PageContext, error: str | None = None, status: int = 200) -> Result:
    invoice = _invoice(ctx)
    refunds = ctx.billing.refunds
    return page(ctx, "invoice.html", "customers", f"Invoice {invoice.number or invoice.id}", status,
                invoice=invoice, left=refunds.refundable(invoice.id), refunds=refunds.list(invoice.id),
                notes=refunds.credit_notes(invoice.id), refund_reasons=REFUND_REASONS,
                note_reasons=CREDIT_NOTE_REASONS, error=error, customer=_customer(ctx, invoice))


def _customer(ctx: PageContext, invoice: Invoice) -> Any:
    try:
        return ctx.billing.customers.get(stripe_id=invoice.customer)
    except NotFoundError:
        return None


def _refund_input(ctx: PageContext, source: dict[str, str], invoice: Invoice) -> tuple[int | None, str | None]:
    amount = minor_units(source.get("amount"), invoice.currency)
    reason = optional(source.get("reason"))
    if reason is not None and reason not in REFUND_REASONS:
        raise InvalidInputError("Choose one of the reasons listed.", param="reason")
    return amount, reason


def refund_confirm(ctx: PageContext) -> Result:
    invoice = _invoice(ctx)
    try:
        amount, reason = _refund_input(ctx, ctx.query, invoice)
    except InvalidInputError as err:
        return detail(ctx, str(err), 400)
    left = ctx.billing.refunds.refundable(invoice.id)
    if left.refund == 0 or (amount is not None and amount > left.refund):
        return detail(ctx, f"At most {ctx.pages.fmt.money(left.refund, invoice.currency)} can be refunded.", 400)
    return page(ctx, "confirm_refund.html", "customers", "Confirm the refund", invoice=invoice, left=left,
                amount=left.refund if amount is None else amount, reason=reason,
                amount_text=decimal_text(left.refund if amount is None else amount, invoice.currency))


def refund(ctx: PageContext) -> Result:
    invoice = _invoice(ctx)
    amount, reason = _refund_input(ctx, ctx.form, invoice)
    if amount is None:
        raise InvalidInputError("Confirm an amount to refund.", param="amount")
    ctx.billing.refunds.create(invoice.id, amount=amount, reason=reason, actor=actor(ctx))
    return Redirect(ctx.url("admin.invoice", invoice_id=invoice.id, done="refunded"))


def _credit_input(source: dict[str, str], invoice: Invoice) -> dict[str, Any]:
    amount = minor_units(source.get("amount"), invoice.currency)
    if amount is None:
        raise InvalidInputError("Enter the amount to credit.", param="amount")
    reason = optional(source.get("reason"))
    if reason is not None and reason not in CREDIT_NOTE_REASONS:
        raise InvalidInputError("Choose one of the reasons listed.", param="reason")
    settle = source.get("settle") or "refund"
    if settle not in SETTLEMENTS:
        raise InvalidInputError("Choose refund or credit to the balance.", param="settle")
    memo = optional(source.get("memo"))
    if memo is not None and len(memo) > 500:
        raise InvalidInputError("The memo may have at most 500 characters.", param="memo")
    return {"amount": amount, "reason": reason, "settle": settle, "memo": memo}


def credit_confirm(ctx: PageContext) -> Result:
    invoice = _invoice(ctx)
    try:
        note = _credit_input(ctx.query, invoice)
    except InvalidInputError as err:
        return detail(ctx, str(err), 400)
    left = ctx.billing.refunds.refundable(invoice.id)
    if note["amount"] > left.credit:
        return detail(ctx, f"At most {ctx.pages.fmt.money(left.credit, invoice.currency)} can be credited.", 400)
    lowers = min(note["amount"], left.owed)
    return page(ctx, "confirm_credit.html", "customers", "Confirm the credit note", invoice=invoice, left=left,
                note=note, lowers=lowers, rest=note["amount"] - lowers,
                amount_text=decimal_text(note["amount"], invoice.currency))


def credit(ctx: PageContext) -> Result:
    invoice = _invoice(ctx)
    ctx.billing.refunds.credit_note(invoice.id, **_credit_input(ctx.form, invoice), actor=actor(ctx))
    return Redirect(ctx.url("admin.invoice", invoice_id=invoice.id, done="credited"))
