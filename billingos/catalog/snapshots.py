"""Read-only snapshots of the local catalog mirror, returned by ``billing.catalog`` reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..money import Money

__all__ = ["FeatureInfo", "MeterInfo", "PlanFeatureInfo", "PriceInfo", "ProductInfo"]

_FROZEN = ConfigDict(frozen=True)


class ProductInfo(BaseModel):
    """A synced product. ``id`` is the Stripe id, ``key`` the catalog key (None when billingos does not
    own it)."""

    model_config = _FROZEN

    id: str
    key: str | None
    name: str
    description: str | None
    active: bool
    metadata: dict[str, str]
    created: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> ProductInfo:
        return cls(
            id=row.stripe_id,
            key=row.key,
            name=row.name,
            description=row.description,
            active=row.active,
            metadata=dict(row.stripe_metadata or {}),
            created=row.stripe_created,
        )


class PriceInfo(BaseModel):
    """A synced price. Amounts are integer minor units; ``unit_amount_decimal`` is exact for sub-cent
    prices."""

    model_config = _FROZEN

    id: str
    lookup_key: str | None
    product: str
    product_key: str | None
    active: bool
    type: Literal["recurring", "one_time"]
    currency: str
    billing_scheme: str
    unit_amount: int | None
    unit_amount_decimal: Decimal | None
    tiers_mode: str | None
    tiers: list[dict[str, Any]] | None
    transform_quantity: dict[str, Any] | None
    interval: str | None
    interval_count: int | None
    usage_type: str | None
    meter: str | None
    trial_period_days: int | None
    nickname: str | None
    metadata: dict[str, str]
    created: datetime | None

    @property
    def unit_price(self) -> Money | None:
        """The per-unit price as Money, when it is a whole number of minor units."""
        return None if self.unit_amount is None else Money(self.unit_amount, self.currency)

    @property
    def recurring(self) -> bool:
        return self.type == "recurring"

    @classmethod
    def from_row(cls, row: Any, product_key: str | None = None) -> PriceInfo:
        dec = row.unit_amount_decimal
        return cls(
            id=row.stripe_id,
            lookup_key=row.lookup_key,
            product=row.product,
            product_key=product_key,
            active=row.active,
            type=row.type,
            currency=row.currency,
            billing_scheme=row.billing_scheme,
            unit_amount=row.unit_amount,
            unit_amount_decimal=_tidy(dec),
            tiers_mode=row.tiers_mode,
            tiers=row.tiers,
            transform_quantity=row.transform_quantity,
            interval=row.interval,
            interval_count=row.interval_count,
            usage_type=row.usage_type,
            meter=row.meter,
            trial_period_days=row.trial_period_days,
            nickname=row.nickname,
            metadata=dict(row.stripe_metadata or {}),
            created=row.stripe_created,
        )


def _tidy(value: Any) -> Decimal | None:
    """An exact Decimal without the column's trailing zeros: 0.250000000000 -> 0.25, 2900 stays 2900."""
    if value is None:
        return None
    d = Decimal(str(value)).normalize()
    return d.quantize(Decimal(1)) if d.as_tuple().exponent > 0 else d  # type: ignore[operator]


class FeatureInfo(BaseModel):
    """A synced entitlement feature; ``key`` is its Stripe lookup_key."""

    model_config = _FROZEN

    id: str
    key: str
    name: str
    type: Literal["boolean", "metered"]
    meter: str | None  # the meter's event_name, for metered features backed by a meter
    active: bool
    metadata: dict[str, str]

    @classmethod
    def from_row(cls, row: Any) -> FeatureInfo:
        ftype: Literal["boolean", "metered"] = "metered" if row.type == "metered" else "boolean"
        return cls(
            id=row.stripe_id,
            key=row.lookup_key,
            name=row.name,
            type=ftype,
            meter=row.meter_event_name,
            active=row.active,
            metadata=dict(row.stripe_metadata or {}),
        )


class PlanFeatureInfo(BaseModel):
    """A feature a plan includes. Metered features have ``limit`` (None when ``unlimited``), ``reset``
    and ``rollover``."""

    model_config = _FROZEN

    product: str
    product_key: str | None
    feature: str
    feature_key: str
    type: Literal["boolean", "metered"]
    limit: int | None
    unlimited: bool
    reset: str | None
    rollover: bool

    @classmethod
    def from_row(cls, row: Any, ftype: str = "boolean") -> PlanFeatureInfo:
        return cls(
            product=row.product,
            product_key=row.product_key,
            feature=row.feature,
            feature_key=row.feature_key,
            type="metered" if ftype == "metered" else "boolean",
            limit=row.limit_value,
            unlimited=row.unlimited,
            reset=row.reset,
            rollover=row.rollover,
        )


class MeterInfo(BaseModel):
    """A synced billing meter."""

    model_config = _FROZEN

    id: str
    event_name: str
    display_name: str
    aggregation: str
    status: str
    customer_payload_key: str | None
    value_payload_key: str | None

    @classmethod
    def from_row(cls, row: Any) -> MeterInfo:
        return cls(
            id=row.stripe_id,
            event_name=row.event_name,
            display_name=row.display_name,
            aggregation=row.aggregation,
            status=row.status,
            customer_payload_key=row.customer_payload_key,
            value_payload_key=row.value_payload_key,
        )
