from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class PaymentMethod(BaseModel):
    """A read-only snapshot of a customer's payment method. ``default``: the customer's invoices use it."""

    model_config = ConfigDict(frozen=True)

    id: str
    customer: str | None
    owner_id: str | None
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    default: bool
    created: datetime | None

    @classmethod
    def from_row(cls, row: Any, *, default: str | None) -> PaymentMethod:
        return cls(id=row.stripe_id, customer=row.customer_stripe_id, owner_id=row.owner_id, type=row.type,
                   brand=row.brand, last4=row.last4, exp_month=row.exp_month, exp_year=row.exp_year,
                   default=row.stripe_id == default, created=row.stripe_created)


class SetupStart(BaseModel):
    """A SetupIntent made to collect a card: confirm it with Stripe.js (``client_secret``) or, with the
    emulator, send the customer to ``billing.emulator.hosted.elements_url(...)`` (its stand-in Elements)."""

    model_config = ConfigDict(frozen=True)

    setup_intent: str
    client_secret: str
