"""How each stored fact reads on a customer's timeline."""

from __future__ import annotations

from typing import Any

from ..money import CURRENCY_EXPONENTS, Money
from .schemas import TimelineEntry


def _money(amount: int, currency: str | None) -> str:
    cur = (currency or "").lower()
    return Money(int(amount), cur).format() if cur in CURRENCY_EXPONENTS else f"{amount} {currency or ''}".strip()


CAUSES = {"new": "Subscription started", "trial_started": "Trial started", "created": "Subscription created",
          "trial_converted": "Trial converted", "past_due_left": "Payment recovered", "resumed": "Resumed",
          "paused": "Paused", "past_due_entered": "Payment past due", "canceled": "Subscription canceled",
          "unpaid": "Unpaid", "status_changed": "Status changed", "cancel_scheduled": "Cancellation at period "
          "end scheduled", "reactivated": "Cancellation undone", "upgrade": "Plan upgraded",
          "downgrade": "Plan downgraded", "quantity": "Quantity changed", "discount": "Discount changed",
          "updated": "Subscription updated"}


def ledger_prices(row: Any) -> list[str]:
    """The price ids a ledger row's subscription had after the change (stored comma-joined)."""
    prices = row.detail.get("prices") if isinstance(row.detail, dict) else None
    return [p for p in prices.split(",") if p] if isinstance(prices, str) else []


def ledger_entry(row: Any, plans: dict[str, str]) -> TimelineEntry:
    """One row of the subscription ledger (analytics' own record of every change, at Stripe's time);
    ``plans`` names price ids for people ("Pro, monthly")."""
    title = CAUSES.get(row.cause, row.cause.replace("_", " ").capitalize())
    detail = f"MRR {_money(row.mrr_before, row.currency)} → {_money(row.mrr_after, row.currency)}"
    if row.status_before != row.status_after:
        detail += f"; {row.status_before or 'new'} → {row.status_after}"
    prices = ledger_prices(row)
    if prices:
        detail += "; " + ", ".join(plans.get(p, p) for p in prices)
    return TimelineEntry(at=row.effective_at, kind="subscription", title=title, detail=detail,
                         ref=row.subscription_stripe_id)


def audit_entry(event: Any) -> TimelineEntry:
    """An audit log entry: who (an admin, the owner, an API key, the system) did what."""
    return TimelineEntry(at=event.occurred_at, kind="admin" if event.actor_kind == "admin" else "audit",
                         title=event.action.replace("_", " ").replace(".", ": ", 1),
                         detail=f"by {event.actor_kind}{':' + event.actor_id if event.actor_id else ''}",
                         ref=event.target_id)


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
