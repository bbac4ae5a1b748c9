"""What ``billing.usage`` returns: frozen snapshots, safe to keep after the session closes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

__all__ = [
    "AlertThresholds",
    "BulkResult",
    "MeterDef",
    "ProjectedInvoice",
    "ProjectedLine",
    "PushReport",
    "TrackResult",
    "UsageDrift",
    "UsageEvent",
    "UsageSummary",
]

Aggregation = Literal["sum", "count", "max", "unique_count", "last"]
AGGREGATIONS: tuple[str, ...] = ("sum", "count", "max", "unique_count", "last")


@dataclass(frozen=True)
class MeterDef:
    """A meter as billing.usage sees it: the Stripe meter's ``event_name`` and how it aggregates locally.

    ``stripe_formula`` (sum, count or last) and ``stripe_id`` come from the synced catalog; a meter defined
    only locally (``billing.usage.define_meter``) has neither and is never pushed to Stripe."""

    event_name: str
    aggregation: str
    unique_by: str | None = None
    stripe_id: str | None = None
    stripe_formula: str | None = None


class AlertThresholds(NamedTuple):
    """When the owner hears about a metered feature's usage: percentages of its limit, sorted. ``custom``:
    the customer set them (``set_alert_thresholds``); otherwise they are the configured defaults."""

    feature: str
    thresholds: tuple[int, ...]
    custom: bool


class UsageEvent(NamedTuple):
    """One validated event, ready to be written (``track_many`` also takes these)."""

    owner_id: str
    meter: str
    value: int
    idempotency_key: str
    timestamp: datetime
    properties: dict[str, Any] | None = None
    unique_key: str | None = None


@dataclass(frozen=True)
class TrackResult:
    """The outcome of ``track``/``adjust``. ``duplicate`` is True when the key was seen before (nothing
    was written). ``total`` is the period's aggregate after this event."""

    idempotency_key: str
    duplicate: bool
    owner_id: str
    meter: str
    period_start: datetime
    period_end: datetime
    total: int


@dataclass(frozen=True)
class BulkResult:
    """The outcome of ``track_many``: how many events were new and how many were duplicates (dropped)."""

    inserted: int
    duplicates: int


@dataclass(frozen=True)
class UsageSummary:
    """An owner's meter over one billing period."""

    owner_id: str
    meter: str
    aggregation: str
    period_start: datetime
    period_end: datetime
    value: int
    events: int
    reported: int          # the value as of the last change handed to the Stripe push outbox

    @classmethod
    def from_row(cls, row: Any) -> UsageSummary:
        return cls(owner_id=row.owner_id, meter=row.meter, aggregation=row.aggregation,
                   period_start=row.period_start, period_end=row.period_end, value=row.value, events=row.events,
                   reported=row.staged_value)


@dataclass(frozen=True)
class ProjectedLine:
    """One line of a projected invoice. Licensed items are billed for the next period in advance (as
    Stripe does at renewal); metered items for this period's usage, in arrears."""

    price: str
    description: str
    metered: bool
    quantity: int
    amount: int                    # the cost of the quantity so far
    projected_quantity: int
    projected_amount: int
    meter: str | None = None


@dataclass(frozen=True)
class ProjectedInvoice:
    """``billing.usage.projected_invoice``: the renewal invoice as of now, and projected to the period end.

    ``amount_so_far`` equals the sum of the lines' ``amount``; ``projected_total`` the sum of their
    ``projected_amount``. Discounts and taxes are not included."""

    owner_id: str
    subscription: str | None
    currency: str | None
    period_start: datetime | None
    period_end: datetime | None
    lines: tuple[ProjectedLine, ...] = ()

    @property
    def amount_so_far(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def projected_total(self) -> int:
        return sum(line.projected_amount for line in self.lines)


@dataclass
class PushReport:
    """One run of the Stripe push: summaries staged into the outbox, and outbox rows sent, retried, failed."""

    staged: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UsageDrift:
    """Local totals against Stripe's meter event summaries for one owner, meter and period."""

    owner_id: str
    meter: str
    period_start: datetime
    period_end: datetime
    local: int
    stripe: float
    pending: int               # outbox rows not yet sent (pending, sending) for this period
    status: Literal["in_sync", "pending", "drift"]
