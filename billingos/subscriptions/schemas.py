from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Proration = Literal["prorate", "none", "always_invoice"]
ACTIVE_STATUSES = ("active", "trialing")


class SubscriptionItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    price: str
    lookup_key: str | None
    product: str | None
    quantity: int | None
    usage_type: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None


class Subscription(BaseModel):
    """A read-only snapshot of a synced subscription. ``id`` is the Stripe id."""

    model_config = ConfigDict(frozen=True)

    id: str
    customer: str
    owner_id: str | None
    status: str
    currency: str | None
    items: list[SubscriptionItem]
    cancel_at_period_end: bool
    cancel_at: datetime | None
    canceled_at: datetime | None
    ended_at: datetime | None
    trial_start: datetime | None
    trial_end: datetime | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    paused: bool
    latest_invoice: str | None
    metadata: dict[str, str]
    created: datetime | None

    @property
    def is_active(self) -> bool:
        """Active or trialing: the customer should have the plan's features."""
        return self.status in ACTIVE_STATUSES

    @property
    def price(self) -> str | None:
        """The lookup key (or id) of the first licensed item: "the plan"."""
        for item in self.items:
            if item.usage_type != "metered":
                return item.lookup_key or item.price
        return None

    @classmethod
    def from_row(cls, row: Any) -> Subscription:
        return cls(
            id=row.stripe_id, customer=row.customer_stripe_id, owner_id=row.owner_id, status=row.status,
            currency=row.currency, cancel_at_period_end=row.cancel_at_period_end, cancel_at=row.cancel_at,
            canceled_at=row.canceled_at, ended_at=row.ended_at, trial_start=row.trial_start,
            trial_end=row.trial_end, current_period_start=row.current_period_start,
            current_period_end=row.current_period_end, paused=row.paused, latest_invoice=row.latest_invoice,
            metadata=dict(row.stripe_metadata or {}), created=row.stripe_created,
            items=[SubscriptionItem(id=i.stripe_id, price=i.price_stripe_id, lookup_key=i.price_lookup_key,
                                    product=i.product_stripe_id, quantity=i.quantity, usage_type=i.usage_type,
                                    current_period_start=i.current_period_start,
                                    current_period_end=i.current_period_end) for i in row.items])


class PreviewLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str | None
    amount: int
    proration: bool
    price: str | None
    quantity: int | None
    period_start: datetime | None
    period_end: datetime | None


class InvoicePreview(BaseModel):
    """What the next invoice would be after a change: Stripe's own ``create_preview``."""

    model_config = ConfigDict(frozen=True)

    currency: str
    subtotal: int
    total: int
    amount_due: int
    lines: list[PreviewLine]
    proration_date: int | None
