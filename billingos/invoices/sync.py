"""The one way a Stripe invoice reaches the DB: ``sync_invoice``."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..clock import utc
from ..customers.models import BillingCustomer
from ..db import upsert
from ..stripe_api import ref_id
from .models import BillingInvoice


def _subscription_of(obj: dict[str, Any]) -> str | None:
    """2025+ API versions moved it under ``parent.subscription_details``; older ones had ``subscription``."""
    parent = obj.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return ref_id(details.get("subscription")) or ref_id(obj.get("subscription"))


def invoice_line(line: dict[str, Any]) -> dict[str, Any]:
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    pricing = line.get("pricing") or {}
    price = (pricing.get("price_details") or {}).get("price") or ref_id(line.get("price"))
    period = line.get("period") or {}
    return {"id": line.get("id"), "description": line.get("description"), "amount": int(line.get("amount") or 0),
            "currency": line.get("currency") or "", "quantity": line.get("quantity"),
            "proration": bool(details.get("proration")), "price": ref_id(price),
            "period_start": utc(period.get("start")), "period_end": utc(period.get("end"))}


@lru_cache(maxsize=1)
def _owner_of() -> Any:
    """The customer's owner read, built once (every invoice sync runs it)."""
    return select(BillingCustomer.owner_id).where(BillingCustomer.stripe_id == bindparam("customer_id"))


def sync_invoice(session: Session, obj: dict[str, Any], *, now: datetime) -> BillingInvoice:
    customer = ref_id(obj["customer"])
    owner = session.scalar(_owner_of(), {"customer_id": customer})
    transitions = obj.get("status_transitions") or {}
    taxes = obj.get("total_taxes") or []
    lines = [invoice_line(line) for line in (obj.get("lines") or {}).get("data") or []]
    values = {
        "stripe_id": obj["id"], "customer_stripe_id": customer, "owner_id": owner,
        "subscription_stripe_id": _subscription_of(obj), "status": obj.get("status"),
        "billing_reason": obj.get("billing_reason"), "number": obj.get("number"), "currency": obj["currency"],
        "subtotal": obj.get("subtotal") or 0, "total": obj.get("total") or 0,
        "tax": sum(int(t.get("amount") or 0) for t in taxes),
        "amount_due": obj.get("amount_due") or 0, "amount_paid": obj.get("amount_paid") or 0,
        "amount_remaining": obj.get("amount_remaining") or 0, "attempt_count": obj.get("attempt_count") or 0,
        "hosted_invoice_url": obj.get("hosted_invoice_url"), "invoice_pdf": obj.get("invoice_pdf"),
        "period_start": utc(obj.get("period_start")), "period_end": utc(obj.get("period_end")),
        "next_payment_attempt": utc(obj.get("next_payment_attempt")), "paid_at": utc(transitions.get("paid_at")),
        "lines": [{**ln, "period_start": ln["period_start"] and ln["period_start"].isoformat(),
                   "period_end": ln["period_end"] and ln["period_end"].isoformat()} for ln in lines],
        "data": obj, "stripe_created": utc(obj.get("created")), "synced_at": now,
    }
    return upsert(session, BillingInvoice, values, key=["stripe_id"])
