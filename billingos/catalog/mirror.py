"""The one way catalog objects reach the DB: ``sync_product``, ``sync_price``, ``sync_feature``,
``sync_meter`` and ``sync_plan_features``. ``catalog.sync`` uses them, and so will the webhook handlers
for ``product.*``, ``price.*`` and ``billing.meter.*`` events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..clock import utc
from ..db import upsert
from ..stripe_api import plain, ref_id
from .models import (
    BillingFeature,
    BillingMeter,
    BillingPlanFeature,
    BillingPrice,
    BillingProduct,
    decimal_param,
)
from .schemas import LIMIT_PREFIX, PlanFeature

__all__ = [
    "KEY_META",
    "MANAGED_META",
    "PRICE_PRODUCT_META",
    "limits_from_metadata",
    "plain",
    "sync_feature",
    "sync_meter",
    "sync_plan_features",
    "sync_price",
    "sync_product",
]

KEY_META = "billingos_key"  # product metadata: the catalog key
MANAGED_META = "billingos_managed"  # feature metadata: "true" when billingos owns the feature
PRICE_PRODUCT_META = "billingos_product"  # price metadata: the catalog key of its product (billingos owns it)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)



def _release(session: Session, model: Any, column: str, value: str | None, stripe_id: str) -> None:
    """Stripe keeps keys unique at any moment: whoever holds ``value`` now, it is this object's."""
    if value is None:
        return
    col = getattr(model, column)
    session.execute(update(model).where(col == value, model.stripe_id != stripe_id).values({column: None}))


def limits_from_metadata(metadata: dict[str, Any]) -> dict[str, PlanFeature]:
    """Per-plan limits kept in product metadata as ``billingos_limit.<feature> = 10000/month[/rollover]``."""
    out: dict[str, PlanFeature] = {}
    for k, v in (metadata or {}).items():
        if k.startswith(LIMIT_PREFIX) and isinstance(v, str):
            pf = PlanFeature.from_metadata(k[len(LIMIT_PREFIX) :], v)
            if pf is not None:
                out[pf.key] = pf
    return out


def sync_product(session: Session, obj: Any, *, now: datetime | None = None) -> BillingProduct | None:
    """Upsert a Stripe product and refresh the limits of its plan features from its metadata."""
    obj = plain(obj)
    now = _now(now)
    if obj.get("deleted"):
        row = session.scalars(select(BillingProduct).where(BillingProduct.stripe_id == obj["id"])).first()
        if row is not None and row.deleted_at is None:
            row.deleted_at, row.active, row.synced_at = now, False, now
        return row
    meta = dict(obj.get("metadata") or {})
    key = meta.get(KEY_META)
    _release(session, BillingProduct, "key", key, obj["id"])
    values = {
        "stripe_id": obj["id"],
        "key": key,
        "name": obj.get("name") or "",
        "description": obj.get("description"),
        "active": bool(obj.get("active", True)),
        "default_price": ref_id(obj.get("default_price")),
        "livemode": bool(obj.get("livemode")),
        "stripe_metadata": meta,
        "data": obj,
        "stripe_created": utc(obj.get("created")),
        "stripe_updated": utc(obj.get("updated")),
        "deleted_at": None,
        "synced_at": now,
    }
    row = upsert(session, BillingProduct, values, key=["stripe_id"])
    limits = limits_from_metadata(meta)
    for pf in session.scalars(select(BillingPlanFeature).where(BillingPlanFeature.product == obj["id"])):
        _apply_limit(pf, limits.get(pf.feature_key), key)
    return row


def _apply_limit(row: BillingPlanFeature, limit: PlanFeature | None, product_key: str | None) -> None:
    row.product_key = product_key
    if limit is None:
        row.limit_value, row.unlimited, row.reset, row.rollover = None, False, None, False
        return
    row.unlimited = limit.limit == "unlimited"
    row.limit_value = None if row.unlimited else limit.limit  # type: ignore[assignment]
    row.reset, row.rollover = limit.reset, limit.rollover


def sync_price(session: Session, obj: Any, *, now: datetime | None = None) -> BillingPrice:
    """Upsert a Stripe price. ``tiers`` are only in expanded prices: a payload without them keeps the
    tiers already stored."""
    obj = plain(obj)
    now = _now(now)
    rec = obj.get("recurring") or {}
    existing = session.scalars(select(BillingPrice).where(BillingPrice.stripe_id == obj["id"])).first()
    if "tiers" not in obj and existing is not None and existing.tiers is not None:
        obj = {**obj, "tiers": existing.tiers}
    dec = obj.get("unit_amount_decimal")
    dec = decimal_param(None if dec is None else Decimal(str(dec)), session.get_bind().dialect.name)
    _release(session, BillingPrice, "lookup_key", obj.get("lookup_key"), obj["id"])
    values = {
        "stripe_id": obj["id"],
        "lookup_key": obj.get("lookup_key"),
        "product": ref_id(obj.get("product")) or "",
        "active": bool(obj.get("active", True)),
        "type": obj.get("type") or ("recurring" if rec else "one_time"),
        "currency": obj.get("currency") or "",
        "billing_scheme": obj.get("billing_scheme") or "per_unit",
        "unit_amount": obj.get("unit_amount"),
        "unit_amount_decimal": dec,
        "tiers_mode": obj.get("tiers_mode"),
        "tiers": obj.get("tiers"),
        "transform_quantity": obj.get("transform_quantity"),
        "interval": rec.get("interval"),
        "interval_count": rec.get("interval_count"),
        "usage_type": rec.get("usage_type"),
        "meter": rec.get("meter"),
        "trial_period_days": rec.get("trial_period_days"),
        "nickname": obj.get("nickname"),
        "livemode": bool(obj.get("livemode")),
        "stripe_metadata": dict(obj.get("metadata") or {}),
        "data": obj,
        "stripe_created": utc(obj.get("created")),
        "synced_at": now,
    }
    return upsert(session, BillingPrice, values, key=["stripe_id"])


def sync_feature(session: Session, obj: Any, *, now: datetime | None = None) -> BillingFeature:
    """Upsert a Stripe entitlement feature. Its type and meter come from billingos's metadata."""
    obj = plain(obj)
    meta = dict(obj.get("metadata") or {})
    values = {
        "stripe_id": obj["id"],
        "lookup_key": obj["lookup_key"],
        "name": obj.get("name") or "",
        "active": bool(obj.get("active", True)),
        "type": meta.get("billingos_type", "boolean"),
        "meter_event_name": meta.get("billingos_meter"),
        "livemode": bool(obj.get("livemode")),
        "stripe_metadata": meta,
        "data": obj,
        "synced_at": _now(now),
    }
    return upsert(session, BillingFeature, values, key=["stripe_id"])


def sync_meter(session: Session, obj: Any, *, now: datetime | None = None) -> BillingMeter:
    """Upsert a Stripe billing meter."""
    obj = plain(obj)
    values = {
        "stripe_id": obj["id"],
        "event_name": obj["event_name"],
        "display_name": obj.get("display_name") or "",
        "aggregation": (obj.get("default_aggregation") or {}).get("formula") or "sum",
        "status": obj.get("status") or "active",
        "customer_payload_key": (obj.get("customer_mapping") or {}).get("event_payload_key"),
        "value_payload_key": (obj.get("value_settings") or {}).get("event_payload_key"),
        "livemode": bool(obj.get("livemode")),
        "data": obj,
        "stripe_created": utc(obj.get("created")),
        "synced_at": _now(now),
    }
    return upsert(session, BillingMeter, values, key=["stripe_id"])


def sync_plan_features(
    session: Session, product: Any, attached: Iterable[Any], *, now: datetime | None = None
) -> list[BillingPlanFeature]:
    """Replace a product's plan features with Stripe's attached ``product_feature`` list; limits come
    from the product's metadata."""
    product = plain(product)
    now = _now(now)
    meta = dict(product.get("metadata") or {})
    key, limits = meta.get(KEY_META), limits_from_metadata(meta)
    items = [plain(a) for a in attached]
    keys = [a["entitlement_feature"]["lookup_key"] for a in items]
    stale = delete(BillingPlanFeature).where(BillingPlanFeature.product == product["id"])
    if keys:
        stale = stale.where(BillingPlanFeature.feature_key.not_in(keys))
    session.execute(stale)
    rows = []
    for a in items:
        feature = a["entitlement_feature"]
        limit = limits.get(feature["lookup_key"])
        unlimited = limit is not None and limit.limit == "unlimited"
        values = {
            "stripe_id": a["id"],
            "product": product["id"],
            "product_key": key,
            "feature": feature["id"],
            "feature_key": feature["lookup_key"],
            "limit_value": None if limit is None or unlimited else limit.limit,
            "unlimited": unlimited,
            "reset": None if limit is None else limit.reset,
            "rollover": bool(limit and limit.rollover),
            "data": a,
            "synced_at": now,
        }
        rows.append(upsert(session, BillingPlanFeature, values, key=["product", "feature_key"]))
    return rows
