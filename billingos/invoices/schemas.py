from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class InvoiceLine(BaseModel):
    """One line of an invoice: an amount in integer minor units of ``currency``, the price and period it
    bills, and whether it is a proration."""

    model_config = ConfigDict(frozen=True)

    id: str | None
    description: str | None
    amount: int
    currency: str
    quantity: int | None
    proration: bool
    price: str | None
    period_start: datetime | None
    period_end: datetime | None


class Invoice(BaseModel):
    """A read-only snapshot of a synced invoice. Amounts are integer minor units of ``currency``."""

    model_config = ConfigDict(frozen=True)

    id: str
    customer: str
    owner_id: str | None
    subscription: str | None
    status: str | None
    billing_reason: str | None
    number: str | None
    currency: str
    subtotal: int
    tax: int
    total: int
    amount_due: int
    amount_paid: int
    amount_remaining: int
    attempt_count: int
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    period_start: datetime | None
    period_end: datetime | None
    next_payment_attempt: datetime | None
    paid_at: datetime | None
    created: datetime | None
    lines: list[InvoiceLine]

    @classmethod
    def from_row(cls, row: Any) -> Invoice:
        return cls(
            id=row.stripe_id, customer=row.customer_stripe_id, owner_id=row.owner_id,
            subscription=row.subscription_stripe_id, status=row.status, billing_reason=row.billing_reason,
            number=row.number, currency=row.currency, subtotal=row.subtotal, tax=row.tax, total=row.total,
            amount_due=row.amount_due, amount_paid=row.amount_paid, amount_remaining=row.amount_remaining,
            attempt_count=row.attempt_count, hosted_invoice_url=row.hosted_invoice_url,
            invoice_pdf=row.invoice_pdf, period_start=row.period_start, period_end=row.period_end,
            next_payment_attempt=row.next_payment_attempt, paid_at=row.paid_at, created=row.stripe_created,
            lines=[InvoiceLine(**line) for line in row.lines])
