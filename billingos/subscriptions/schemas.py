from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Proration = Literal["prorate", "none", "always_invoice", "at_period_end"]
ACTIVE_STATUSES = ("active", "trialing")


class SubscriptionItem(BaseModel):
    """One price on a subscription, with its quantity and (since Stripe's 2025 API) its own period."""

    model_config = ConfigDict(frozen=True)

    id: str
    price: str
    lookup_key: str | None
    product: str | None
    quantity: int | None
    usage_type: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None


class ScheduledChange(BaseModel):
    """A change that takes effect later (``change(..., proration="at_period_end")``): the next phase of the
    subscription's Stripe subscription schedule."""

    model_config = ConfigDict(frozen=True)

    schedule: str
    price: str
    lookup_key: str | None
    quantity: int | None
    effective_at: datetime

    @classmethod
    def from_schedule(cls, data: dict[str, Any]) -> ScheduledChange | None:
        """The phase that starts when the current one ends, if it changes the items."""
        current = data.get("current_phase")
        if data.get("status") not in ("active", "not_started") or not current:
            return None
        phases = data.get("phases") or []
        now = next((p for p in phases if p.get("start_date") == current["start_date"]), None)
        nxt = next((p for p in phases if p.get("start_date") == current["end_date"]), None)
        if nxt is None or now is None or _phase_items(nxt) == _phase_items(now):
            return None
        item = next((i for i in nxt.get("items") or [] if _usage(i) != "metered"), None)
        if item is None:
            return None
        price = item.get("price")
        return cls(schedule=data["id"], price=price["id"] if isinstance(price, dict) else price,
                   lookup_key=price.get("lookup_key") if isinstance(price, dict) else None,
                   quantity=item.get("quantity"), effective_at=datetime.fromtimestamp(nxt["start_date"], UTC))


def _price_id(item: dict[str, Any]) -> str:
    price = item.get("price")
    return str(price["id"] if isinstance(price, dict) else price)


def _phase_items(phase: dict[str, Any]) -> list[tuple[str, int | None]]:
    return sorted(((_price_id(i), i.get("quantity")) for i in phase.get("items") or []), key=str)


def _usage(item: dict[str, Any]) -> str | None:
    price = item.get("price")
    return ((price.get("recurring") or {}).get("usage_type")) if isinstance(price, dict) else None


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
    schedule: str | None = None                     # the attached Stripe subscription schedule
    scheduled_change: ScheduledChange | None = None  # a change waiting for the period end

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
            metadata=dict(row.stripe_metadata or {}), created=row.stripe_created, schedule=row.schedule,
            scheduled_change=(ScheduledChange.from_schedule(row.schedule_row.data)
                              if row.schedule is not None and row.schedule_row is not None else None),
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
    amount_due_now: int = 0               # charged when the change is made (an invoice issued now), else 0
    effective_at: datetime | None = None  # when the change applies: now, or the period end (at_period_end)
    invoiced_now: bool = False            # Stripe issues this invoice at once (always_invoice, interval change)
    invoiced_at: datetime | None = None   # when Stripe issues it: now, or the current period end
    resets_billing_cycle: bool = False    # an interval change: the billing cycle restarts at the change
