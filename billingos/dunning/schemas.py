from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class DunningCase(BaseModel):
    """A failed subscription invoice in dunning, as the host sees it (signals, ``billing.dunning``).

    ``status``: ``open`` (retrying or waiting for the window to close), ``recovered`` (paid),
    ``exhausted`` (gave up; ``outcome`` is ``canceled`` or ``unpaid``) or ``closed`` (the invoice was
    voided or marked uncollectible outside dunning). ``no_retry_reason``: ``hard_decline`` or
    ``no_payment_method`` when retries were not attempted."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    subscription_id: str
    customer_id: str
    owner_id: str | None
    status: str
    outcome: str | None
    amount_due: int
    currency: str
    retries_planned: int
    retries_done: int
    next_retry_at: datetime | None
    last_decline_code: str | None
    no_retry_reason: str | None
    first_failed_at: datetime
    closes_at: datetime
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> DunningCase:
        return cls(invoice_id=row.invoice_stripe_id, subscription_id=row.subscription_stripe_id,
                   customer_id=row.customer_stripe_id, owner_id=row.owner_id, status=row.status, outcome=row.outcome,
                   amount_due=row.amount_due, currency=row.currency, retries_planned=row.retries_planned,
                   retries_done=row.retries_done, next_retry_at=row.next_retry_at,
                   last_decline_code=row.last_decline_code, no_retry_reason=row.no_retry_reason,
                   first_failed_at=row.first_failed_at, closes_at=row.closes_at, closed_at=row.closed_at)
