from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingSubscription(Base):
    """The local copy of a Stripe subscription: the columns queries need, plus the full object."""

    __tablename__ = "billing_subscriptions"
    __table_args__ = (Index("ix_billing_subscriptions_owner_status", "owner_id", "status"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    customer_stripe_id: Mapped[str] = mapped_column(String(255), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3))
    collection_method: Mapped[str | None] = mapped_column(String(32))
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trial_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)      # pause_collection is set
    latest_invoice: Mapped[str | None] = mapped_column(String(255))
    default_payment_method: Mapped[str | None] = mapped_column(String(255))
    stripe_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)   # +1 whenever the synced object changes
    schedule: Mapped[str | None] = mapped_column(String(255))  # the attached Stripe subscription schedule

    items: Mapped[list[BillingSubscriptionItem]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", order_by="BillingSubscriptionItem.id",
        lazy="selectin")
    schedule_row: Mapped[BillingSubscriptionSchedule | None] = relationship(
        primaryjoin="foreign(BillingSubscription.schedule) == BillingSubscriptionSchedule.stripe_id",
        viewonly=True, uselist=False, lazy="selectin")


class BillingSubscriptionItem(Base):
    __tablename__ = "billing_subscription_items"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("billing_subscriptions.id", ondelete="CASCADE"),
                                                 index=True)
    price_stripe_id: Mapped[str] = mapped_column(String(255), index=True)
    price_lookup_key: Mapped[str | None] = mapped_column(String(255))
    product_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    usage_type: Mapped[str | None] = mapped_column(String(16))
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)

    subscription: Mapped[BillingSubscription] = relationship(back_populates="items")


class BillingSubscriptionSchedule(Base):
    """The local copy of a Stripe subscription schedule: its phases (prices expanded) in ``data``.

    Synced by ``subscription_schedule.*`` webhooks and by ``change(..., proration="at_period_end")``."""

    __tablename__ = "billing_subscription_schedules"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscription_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)  # attached or released
    customer_stripe_id: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillingCancellationFeedback(Base):
    """Why a customer canceled: the reason survey's answer (also sent to Stripe as ``cancellation_details``)."""

    __tablename__ = "billing_cancellation_feedback"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    subscription_stripe_id: Mapped[str] = mapped_column(String(255), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(255), index=True)
    feedback: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(String(1000))
    at_period_end: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
