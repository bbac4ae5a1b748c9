"""The subscription ledger and the host's exchange rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingLedgerEntry(Base):
    """Append-only: one row per change of a subscription's MRR or status, at Stripe's time for it.

    ``mrr_after - mrr_before`` summed over rows up to ``t`` is the MRR at ``t`` (per currency). Evidence that
    arrives late (an older event after a newer one) is posted at its true time, followed by a reversing
    ``correction`` row just before the next later row, so every prefix sum stays exact without an UPDATE."""

    __tablename__ = "billing_subscription_ledger"
    __table_args__ = (
        Index("ix_billing_subscription_ledger_sub_at", "subscription_stripe_id", "effective_at", "rank"),
        Index("ix_billing_subscription_ledger_customer_at", "customer_stripe_id", "effective_at"),
        Index("ix_billing_subscription_ledger_at", "effective_at", "currency", "mrr_before", "mrr_after"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    subscription_stripe_id: Mapped[str] = mapped_column(String(255))
    customer_stripe_id: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[str | None] = mapped_column(String(255), index=True)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)          # Stripe's time of the change
    rank: Mapped[int] = mapped_column(Integer, default=0)                # order inside one second
    mrr_before: Mapped[int] = mapped_column(BigInteger)                  # minor units of ``currency``
    mrr_after: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status_before: Mapped[str | None] = mapped_column(String(32))
    status_after: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))                      # event | sync | backfill | correction
    stripe_event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)             # prices, quantity, discounts, ...
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)           # when billingos wrote it (audit only)


class BillingLedgerCheckpoint(Base):
    """Evidence that changed nothing: the ledger's state was already right at that Stripe time. Kept apart
    from the rows (it is no change), so an older event that arrives later is reversed at the first moment
    some evidence vouched for the state after it, not only at the next row."""

    __tablename__ = "billing_ledger_checkpoints"
    __table_args__ = (UniqueConstraint("subscription_stripe_id", "effective_at", "rank"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    subscription_stripe_id: Mapped[str] = mapped_column(String(255))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rank: Mapped[int] = mapped_column(Integer, default=0)


class BillingFxRate(Base):
    """A host-supplied exchange rate: 1 unit of ``currency`` = ``rate`` units of ``quote``, from ``valid_from``."""

    __tablename__ = "billing_fx_rates"
    __table_args__ = (UniqueConstraint("currency", "quote", "valid_from"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    currency: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Numeric(28, 12))
