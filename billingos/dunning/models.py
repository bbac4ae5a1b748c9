from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..db import BigID as ID

#: open -> recovered (paid) | exhausted (gave up: ``outcome``) | closed (voided, marked uncollectible)
STATUSES = ("open", "recovered", "exhausted", "closed")
OUTCOMES = ("canceled", "unpaid")


class BillingDunningCase(Base):
    """One failed subscription invoice in dunning: its retries, and how it ended. One row per invoice."""

    __tablename__ = "billing_dunning_cases"
    __table_args__ = (Index("ix_billing_dunning_cases_owner", "owner_id", "status"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    invoice_stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscription_stripe_id: Mapped[str] = mapped_column(String(255), index=True)
    customer_stripe_id: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(String(16))
    amount_due: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    retries_planned: Mapped[int] = mapped_column(Integer)            # len(schedule) when the case opened
    retries_done: Mapped[int] = mapped_column(Integer, default=0)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_decline_code: Mapped[str | None] = mapped_column(String(64))
    no_retry_reason: Mapped[str | None] = mapped_column(String(32))  # hard_decline | no_payment_method
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)         # first failure + the schedule's last day
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
