"""How each stored fact reads on a customer's timeline."""

from __future__ import annotations

from typing import Any

from ..money import CURRENCY_EXPONENTS, Money
from .schemas import TimelineEntry


def _money(amount: int, currency: str | None) -> str:
    cur = (currency or "").lower()
    return Money(int(amount), cur).format() if cur in CURRENCY_EXPONENTS else f"{amount} {currency or ''}".strip()


def _plans(items: list[dict[str, Any]] | None, names: dict[str, str]) -> str:
    return ", ".join(names.get(str(i.get("price")), str(i.get("price")))
                     + (f" × {i['quantity']}" if (i.get("quantity") or 1) != 1 else "") for i in items or []) \
        or "no items"


def change_entry(change: Any, before: Any | None, names: dict[str, str]) -> TimelineEntry:
    """One ledger row: started, status change, plan change, cancel scheduled or undone. ``names``: price id ->
    lookup key, so the entry reads "basic_monthly"."""
    if before is None:
        title = f"Subscription started ({change.status_to})" if change.status_from is None else \
            f"Subscription {change.status_from} → {change.status_to}"
    elif change.status_from != change.status_to:
        title = f"Subscription {change.status_from or 'new'} → {change.status_to}"
    elif _plans(before.items, names) != _plans(change.items, names):
        title = "Plan changed"
    elif change.cancel_at_period_end != before.cancel_at_period_end:
        title = "Cancellation at period end scheduled" if change.cancel_at_period_end else "Cancellation undone"
    else:
        title = "Subscription updated"
    detail = _plans(change.items, names)
    if before is not None and _plans(before.items, names) != detail:
        detail = f"{_plans(before.items, names)} → {detail}"
    return TimelineEntry(at=change.at, kind="subscription", title=title, detail=detail,
                         ref=change.subscription_stripe_id)


def invoice_entries(inv: Any) -> list[TimelineEntry]:
    """The invoice's creation, and its payment when it was paid."""
    out = []
    if inv.stripe_created is not None:
        out.append(TimelineEntry(at=inv.stripe_created, kind="invoice",
                                 title=f"Invoice {inv.number or inv.stripe_id} for {_money(inv.total, inv.currency)}",
                                 detail=f"{inv.billing_reason or 'manual'}; now {inv.status}", ref=inv.stripe_id))
    if inv.paid_at is not None and inv.amount_paid:
        out.append(TimelineEntry(at=inv.paid_at, kind="payment",
                                 title=f"Payment of {_money(inv.amount_paid, inv.currency)} received",
                                 detail=f"invoice {inv.number or inv.stripe_id}", ref=inv.stripe_id))
    return out


def webhook_entry(event: Any) -> TimelineEntry:
    kind = "payment" if event.type.startswith(("invoice.payment_", "charge.", "payment_intent.")) else "webhook"
    return TimelineEntry(at=event.stripe_created or event.received_at, kind=kind, title=f"Stripe event {event.type}",
                         detail=f"{event.stripe_event_id} (via {event.source})", ref=event.object_id)
