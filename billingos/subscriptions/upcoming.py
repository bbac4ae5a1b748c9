"""The owner's next invoice, as Stripe previews it (``invoices.create_preview`` for the live subscription)."""

from __future__ import annotations

from typing import Any

from ..invoices import invoice_line
from .schemas import InvoicePreview, PreviewLine, Subscription


def preview_from(inv: dict[str, Any], sub: Subscription) -> InvoicePreview:
    lines = [invoice_line(ln) for ln in (inv.get("lines") or {}).get("data") or []]
    when = sub.trial_end if sub.status == "trialing" and sub.trial_end else sub.current_period_end
    return InvoicePreview(
        currency=inv["currency"], subtotal=inv.get("subtotal") or 0, total=inv.get("total") or 0,
        amount_due=inv.get("amount_due") or 0, proration_date=None, effective_at=when,
        lines=[PreviewLine(description=ln["description"], amount=ln["amount"], proration=ln["proration"],
                           price=ln["price"], quantity=ln["quantity"], period_start=ln["period_start"],
                           period_end=ln["period_end"]) for ln in lines])
