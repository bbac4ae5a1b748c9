"""The JSON API's request and response bodies: pydantic models, the one source of both OpenAPI documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..customers.schemas import Customer
from ..invoices.schemas import Invoice
from ..subscriptions.schemas import Subscription

MAX_BATCH = 1000


class CheckQuery(BaseModel):
    feature: str = Field(description="The feature's lookup key, e.g. 'export' or 'api_calls'.")
    amount: int = Field(default=1, ge=0, description="Units the caller is about to use (metered features).")
    owner_id: str | None = Field(default=None, description="Required with a server-to-server key; with an "
                                                              "owner's key it may only name that owner.")


class OwnerQuery(BaseModel):
    owner_id: str | None = Field(default=None, description="Required with a server-to-server key.")


class InvoicesQuery(OwnerQuery):
    status: str | None = Field(default=None, description="draft, open, paid, uncollectible or void.")
    limit: int = Field(default=20, ge=1, le=100)


class CheckOut(BaseModel):
    """``billing.check``'s answer: may the owner use the feature now, and how much is left."""

    feature: str
    allowed: bool
    limit: int | None
    used: int | None
    remaining: int | None
    resets_at: datetime | None
    reason: str


class UsageEventIn(BaseModel):
    """One usage event. ``idempotency_key`` is unique forever: a retry with the same key records nothing."""

    model_config = ConfigDict(extra="forbid")

    meter: str
    value: int = Field(ge=0)
    idempotency_key: str = Field(min_length=1, max_length=255)
    timestamp: datetime | None = None
    owner_id: str | None = None
    properties: dict[str, Any] | None = None


class UsageBatchIn(BaseModel):
    """Up to 1,000 events in one request, all recorded or none."""

    model_config = ConfigDict(extra="forbid")

    events: list[UsageEventIn] = Field(min_length=1, max_length=MAX_BATCH)


class UsageOut(BaseModel):
    accepted: int = Field(description="Events recorded now.")
    duplicates: int = Field(description="Events whose idempotency key was seen before (nothing written).")


class InvoiceList(BaseModel):
    items: list[Invoice]


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    param: str | None = None


__all__ = ["MAX_BATCH", "CheckOut", "CheckQuery", "Customer", "Invoice", "InvoiceList", "InvoicesQuery",
           "OwnerQuery", "Problem", "Subscription", "UsageBatchIn", "UsageEventIn", "UsageOut"]
