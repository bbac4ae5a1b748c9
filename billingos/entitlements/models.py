"""Entitlement tables: grants (recomputed with each subscription sync), usage counters and the ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..db import BigID as ID

__all__ = ["BillingEntitlement", "BillingEntitlementCounter", "BillingEntitlementUsage"]



class BillingEntitlement(Base):
    """One grant of one feature to one owner, from one source.

    ``source`` is ``subscription:<sub id>`` (recomputed in the subscription's sync transaction) or
    ``override`` (a per-owner grant such as a sales-granted feature). A feature is available while at
    least one of its grants is live: ``expires_at`` and ``grace_until`` (when set) are in the future.
    """

    __tablename__ = "billing_entitlements"
    __table_args__ = (UniqueConstraint("owner_id", "feature_key", "source"),
                      Index("ix_billing_entitlements_owner", "owner_id"))

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(String(255))
    feature_key: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(300))
    subscription_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    feature_type: Mapped[str] = mapped_column(String(16), default="boolean")   # boolean | metered
    limit_value: Mapped[int | None] = mapped_column(BigInteger)               # None: no cap
    reset: Mapped[str | None] = mapped_column(String(16))
    rollover: Mapped[bool] = mapped_column(Boolean, default=False)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillingEntitlementCounter(Base):
    """How much of a metered feature an owner used in one reset window (``window_start``).

    ``carried`` is the allowance rolled over from the previous window. Consumption locks this row."""

    __tablename__ = "billing_entitlement_counters"
    __table_args__ = (UniqueConstraint("owner_id", "feature_key", "window_start",
                                       name="uq_billing_entitlement_counters_window"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(String(255))
    feature_key: Mapped[str] = mapped_column(String(80))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    carried: Mapped[int] = mapped_column(BigInteger, default=0)


class BillingEntitlementUsage(Base):
    """The consumption ledger: one row per consume() or reserve(), keyed by the caller's idempotency key.

    ``status``: ``committed`` (counted in the counter's ``used``), ``held`` (a reservation, counted
    while ``expires_at`` is ahead), ``released`` or ``expired`` (not counted).

    ``token`` is the secret half of a reservation's id (``rsv_<id>_<token>``): 32 random hex characters.
    It is empty for consume() rows and for reservations made before revision 0003, which no id can name."""

    __tablename__ = "billing_entitlement_usage"
    __table_args__ = (UniqueConstraint("owner_id", "idempotency_key"),
                      Index("ix_billing_entitlement_usage_held", "counter_id", "status"))

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(String(255))
    feature_key: Mapped[str] = mapped_column(String(80))
    counter_id: Mapped[int] = mapped_column(ForeignKey("billing_entitlement_counters.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))          # consume | reservation
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # consume() rows leave it to the server default: the hot path spends no randomness on them
    token: Mapped[str] = mapped_column(String(32), server_default="")
