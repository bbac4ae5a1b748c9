from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ..customers import Customer


class CustomerRow(BaseModel):
    """One line of the admin customer list: the customer and its current subscription's status and plan."""

    model_config = ConfigDict(frozen=True)

    customer: Customer
    status: str | None          # the newest live subscription's status (else the newest one's), None: none
    plan: str | None            # that subscription's plan (product id of its first licensed item)
    subscription: str | None


class TimelineEntry(BaseModel):
    """One thing that happened to a customer, for the admin's activity timeline."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: str                   # subscription | invoice | payment | webhook | admin
    title: str
    detail: str = ""
    ref: str | None = None      # the Stripe id the entry is about
