"""Invoice previews: the owner's next invoice (``invoices.create_preview`` for the live subscription), and a
change's invoice with when Stripe issues it."""

from __future__ import annotations

from datetime import datetime
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


def timed(preview: InvoicePreview, sub: Subscription, *, moment: datetime, policy: str,
          resets: bool) -> InvoicePreview:
    """A change's preview with when Stripe bills it: at once for ``always_invoice`` and for a change of
    billing interval (which also restarts the cycle, ``resets``); else with the invoice at the period end."""
    if policy == "at_period_end":
        return preview.model_copy(update={"amount_due_now": 0, "effective_at": sub.current_period_end,
                                          "invoiced_at": sub.current_period_end})
    now = resets or policy == "always_invoice"
    return preview.model_copy(update={
        "invoiced_now": now, "resets_billing_cycle": resets, "amount_due_now": preview.amount_due if now else 0,
        "invoiced_at": moment if now else sub.current_period_end, "effective_at": moment})


def interval_changes(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two prices bill on different intervals (Stripe then resets the billing cycle anchor and
    invoices at once)."""
    a, b = old.get("recurring") or {}, new.get("recurring") or {}
    return (a.get("interval"), a.get("interval_count") or 1) != (b.get("interval"), b.get("interval_count") or 1)
