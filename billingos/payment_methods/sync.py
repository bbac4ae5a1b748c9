"""The one way a Stripe payment method reaches the DB: ``sync_payment_method``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import utc
from ..customers.models import BillingCustomer
from ..db import upsert
from .models import BillingPaymentMethod


def sync_payment_method(session: Session, obj: dict[str, Any], *, now: datetime) -> BillingPaymentMethod:
    """Upsert the payment method; one no longer attached to a customer is kept, marked ``detached``."""
    customer = obj.get("customer")
    customer = customer.get("id") if isinstance(customer, dict) else customer
    owner = session.scalar(select(BillingCustomer.owner_id).where(BillingCustomer.stripe_id == customer)) \
        if customer else None
    card = obj.get("card") or {}
    values = {"stripe_id": obj["id"], "type": str(obj.get("type") or "card"), "brand": card.get("brand"),
              "last4": card.get("last4"), "exp_month": card.get("exp_month"), "exp_year": card.get("exp_year"),
              "detached": customer is None, "data": obj, "stripe_created": utc(obj.get("created")), "synced_at": now}
    if customer is not None:      # a detached method keeps the customer it had, so its owner can still see it
        values.update(customer_stripe_id=customer, owner_id=owner)
    return upsert(session, BillingPaymentMethod, values, key=["stripe_id"])
