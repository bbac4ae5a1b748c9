"""The local mirror of the catalog: products, prices, entitlement features, plan features and meters.

Rows reach these tables only through the ``sync_*`` functions in ``billingos.catalog.mirror``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID

__all__ = [
    "BillingFeature",
    "BillingMeter",
    "BillingPlanFeature",
    "BillingPrice",
    "BillingProduct",
    "as_decimal",
]

# Exact sub-cent amounts: NUMERIC(19, 12) where the database has it; SQLite has no exact decimal type
# (its NUMERIC goes through a float), so there the value is kept as text. Read it with ``as_decimal``.
EXACT_DECIMAL = Numeric(19, 12).with_variant(String(40), "sqlite")


def as_decimal(value: Any) -> Decimal | None:
    """A stored exact decimal (Decimal on PostgreSQL, text on SQLite) as a Decimal."""
    return None if value is None else Decimal(str(value))


def decimal_param(value: Decimal | None, dialect: str) -> Any:
    """The value to bind for an exact decimal column on ``dialect``."""
    if value is None:
        return None
    return format(value, "f") if dialect == "sqlite" else value


class BillingProduct(Base):
    """A Stripe product. ``key`` is the catalog key (Stripe metadata ``billingos_key``)."""

    __tablename__ = "billing_products"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    key: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(5000))
    description: Mapped[str | None] = mapped_column(String(5000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    default_price: Mapped[str | None] = mapped_column(String(255))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    stripe_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stripe_updated: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillingPrice(Base):
    """A Stripe price. Money is integer minor units plus currency; sub-cent prices use the Decimal column."""

    __tablename__ = "billing_prices"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    lookup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    product: Mapped[str] = mapped_column(String(255), index=True)  # Stripe product id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    type: Mapped[str] = mapped_column(String(16))  # recurring | one_time
    currency: Mapped[str] = mapped_column(String(3))
    billing_scheme: Mapped[str] = mapped_column(String(16))  # per_unit | tiered
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    unit_amount_decimal: Mapped[Decimal | None] = mapped_column(EXACT_DECIMAL)  # see as_decimal()
    tiers_mode: Mapped[str | None] = mapped_column(String(16))
    tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    transform_quantity: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    interval: Mapped[str | None] = mapped_column(String(8))
    interval_count: Mapped[int | None] = mapped_column(Integer)
    usage_type: Mapped[str | None] = mapped_column(String(16))
    meter: Mapped[str | None] = mapped_column(String(255), index=True)  # Stripe meter id
    trial_period_days: Mapped[int | None] = mapped_column(Integer)
    nickname: Mapped[str | None] = mapped_column(String(250))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    stripe_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillingFeature(Base):
    """A Stripe entitlement feature; ``lookup_key`` is the feature key used by ``has_feature``/``check``."""

    __tablename__ = "billing_features"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    lookup_key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    type: Mapped[str] = mapped_column(String(16), default="boolean")  # boolean | metered
    meter_event_name: Mapped[str | None] = mapped_column(String(100))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    stripe_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillingPlanFeature(Base):
    """A feature attached to a product (Stripe product_feature), with its limit from product metadata.

    ``limit_value`` is NULL for boolean features and for ``unlimited``; ``unlimited`` tells them apart.
    """

    __tablename__ = "billing_plan_features"
    __table_args__ = (UniqueConstraint("product", "feature_key"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str | None] = mapped_column(String(255), unique=True)  # Stripe product_feature id
    product: Mapped[str] = mapped_column(String(255), index=True)  # Stripe product id
    product_key: Mapped[str | None] = mapped_column(String(64), index=True)
    feature: Mapped[str] = mapped_column(String(255))  # Stripe feature id
    feature_key: Mapped[str] = mapped_column(String(80), index=True)
    limit_value: Mapped[int | None] = mapped_column(BigInteger)
    unlimited: Mapped[bool] = mapped_column(Boolean, default=False)
    reset: Mapped[str | None] = mapped_column(String(16))
    rollover: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BillingMeter(Base):
    """A Stripe billing meter. Only one active meter per ``event_name`` exists at a time (Stripe's rule)."""

    __tablename__ = "billing_meters"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    stripe_id: Mapped[str] = mapped_column(String(255), unique=True)
    event_name: Mapped[str] = mapped_column(String(100), index=True)
    display_name: Mapped[str] = mapped_column(String(250))
    aggregation: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    customer_payload_key: Mapped[str | None] = mapped_column(String(100))
    value_payload_key: Mapped[str | None] = mapped_column(String(100))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
