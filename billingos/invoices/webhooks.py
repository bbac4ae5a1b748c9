"""Built-in handlers for ``invoice.*`` and ``payment_intent.*``: fetch the current invoice, then sync it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import signals
from ..stripe_api import call_stripe, plain

if TYPE_CHECKING:
    from ..billing import Billing
    from ..webhooks.schemas import WebhookContext

INVOICE_EVENTS = ("created", "finalized", "paid", "payment_failed", "payment_action_required", "upcoming",
                  "voided", "marked_uncollectible", "updated", "payment_succeeded", "deleted")


def register(billing: Billing) -> None:
    for name in INVOICE_EVENTS:
        billing.webhooks.subscribe(f"invoice.{name}", on_invoice_event)
    for name in ("succeeded", "payment_failed"):
        billing.webhooks.subscribe(f"payment_intent.{name}", on_payment_intent_event)


def fetch_invoice(billing: Billing, invoice_id: str) -> dict[str, Any]:
    return plain(call_stripe(billing.stripe.v1.invoices.retrieve, invoice_id))


def on_invoice_event(ctx: WebhookContext) -> None:
    obj = ctx.object
    if ctx.type == "invoice.upcoming" or not obj.get("id"):
        return  # a preview of a future invoice: nothing to store yet
    billing = ctx.billing
    _ensure_customer(ctx, obj)
    invoice = billing.invoices.apply(ctx.session, fetch_invoice(billing, obj["id"]))
    if ctx.type == "invoice.payment_failed":
        ctx.on_commit(lambda: signals.payment_failed.send(
            billing, invoice=invoice, attempt_count=obj.get("attempt_count") or invoice.attempt_count,
            next_payment_attempt=invoice.next_payment_attempt))
    elif ctx.type == "invoice.payment_succeeded":
        ctx.on_commit(lambda: signals.payment_succeeded.send(billing, invoice=invoice))


def on_payment_intent_event(ctx: WebhookContext) -> None:
    """Invoice payment intents refresh their invoice; other payments are stored and left alone."""
    invoice_id = _invoice_of_payment_intent(ctx)
    if invoice_id:
        ctx.billing.invoices.apply(ctx.session, fetch_invoice(ctx.billing, invoice_id))


def _invoice_of_payment_intent(ctx: WebhookContext) -> str | None:
    obj = ctx.object
    if obj.get("invoice"):
        return str(obj["invoice"])
    meta = obj.get("metadata") or {}
    return meta.get("invoice")


def _ensure_customer(ctx: WebhookContext, obj: dict[str, Any]) -> None:
    """An invoice event may arrive before its customer's: sync the customer first so owner_id is known."""
    from ..customers.models import BillingCustomer
    from ..customers.webhooks import fetch_current
    cid = obj.get("customer")
    cid = cid.get("id") if isinstance(cid, dict) else cid
    if not cid:
        return
    from sqlalchemy import select

    from ..webhooks.service import lock_object
    lock_object(ctx.session, cid)   # the customer's own events may be creating it right now
    if ctx.session.scalar(select(BillingCustomer.id).where(BillingCustomer.stripe_id == cid)) is None:
        ctx.billing.customers.apply(ctx.session, fetch_current(ctx.billing, {"id": cid}))
