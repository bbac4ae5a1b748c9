"""The one way a Stripe subscription reaches the DB: ``sync_subscription`` (write path and webhooks)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from ..clock import utc
from ..customers.models import BillingCustomer
from ..db import upsert
from ..stripe_api import ref_id
from .models import (
    BillingSubscription,
    BillingSubscriptionItem,
    BillingSubscriptionSchedule,
)


def sync_subscription(session: Session, obj: dict[str, Any], *, now: datetime) -> BillingSubscription:
    customer = ref_id(obj["customer"])
    owner = session.scalar(_reads().owner, {"customer_id": customer})
    items = (obj.get("items") or {}).get("data") or []
    starts = [i["current_period_start"] for i in items if i.get("current_period_start")]
    ends = [i["current_period_end"] for i in items if i.get("current_period_end")]
    values = {
        "stripe_id": obj["id"], "customer_stripe_id": customer, "owner_id": owner, "status": obj["status"],
        "currency": obj.get("currency"), "collection_method": obj.get("collection_method"),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")), "cancel_at": utc(obj.get("cancel_at")),
        "canceled_at": utc(obj.get("canceled_at")), "ended_at": utc(obj.get("ended_at")),
        "trial_start": utc(obj.get("trial_start")), "trial_end": utc(obj.get("trial_end")),
        "current_period_start": utc(min(starts)) if starts else None,
        "current_period_end": utc(max(ends)) if ends else None,
        "paused": bool(obj.get("pause_collection")) or obj["status"] == "paused",
        "latest_invoice": ref_id(obj.get("latest_invoice")),
        "default_payment_method": ref_id(obj.get("default_payment_method")),
        "stripe_metadata": dict(obj.get("metadata") or {}), "data": obj,
        "stripe_created": utc(obj.get("created")), "synced_at": now, "schedule": ref_id(obj.get("schedule")),
    }
    before = session.scalars(_reads().subscription, {"subscription_id": obj["id"]}).first()
    values["version"] = 1 if before is None else before.version + (before.data != obj)
    row = upsert(session, BillingSubscription, values, key=["stripe_id"], lazy=("items",))   # set by _sync_items
    _sync_items(session, row, items)
    return row


def sync_subscription_schedule(session: Session, obj: dict[str, Any], *, now: datetime) -> BillingSubscriptionSchedule:
    """The one way a Stripe subscription schedule reaches the DB (phases' prices expanded when fetched so)."""
    row: BillingSubscriptionSchedule = upsert(session, BillingSubscriptionSchedule, {
        "stripe_id": obj["id"], "customer_stripe_id": ref_id(obj["customer"]),
        "subscription_stripe_id": ref_id(obj.get("subscription")) or obj.get("released_subscription"),
        "status": obj["status"], "data": obj, "synced_at": now,
    }, key=["stripe_id"])
    return row


def _sync_items(session: Session, row: BillingSubscription, items: list[dict[str, Any]]) -> None:
    keep = set()
    for item in items:
        price = item.get("price") or {}
        keep.add(item["id"])
        upsert(session, BillingSubscriptionItem, {
            "stripe_id": item["id"], "subscription_id": row.id, "price_stripe_id": ref_id(price),
            "price_lookup_key": price.get("lookup_key") if isinstance(price, dict) else None,
            "product_stripe_id": ref_id(price.get("product")) if isinstance(price, dict) else None,
            "quantity": item.get("quantity"),
            "usage_type": ((price.get("recurring") or {}).get("usage_type") if isinstance(price, dict) else None),
            "current_period_start": utc(item.get("current_period_start")),
            "current_period_end": utc(item.get("current_period_end")), "data": item,
        }, key=["stripe_id"])
    stored = list(session.scalars(_reads().items, {"row_id": row.id}))
    for old in stored:
        if old.stripe_id not in keep:
            session.delete(old)
    session.flush()
    # ``row.items`` as a reload would find it (the relationship orders by id), without reading it again
    set_committed_value(row, "items", [i for i in stored if i.stripe_id in keep])


class _Reads(NamedTuple):
    owner: Any
    subscription: Any
    items: Any


@lru_cache(maxsize=1)
def _reads() -> _Reads:
    """The sync's reads, built once (each sync runs them); values are bound per call."""
    item = BillingSubscriptionItem
    return _Reads(
        owner=select(BillingCustomer.owner_id).where(BillingCustomer.stripe_id == bindparam("customer_id")),
        # its version and data only: the upsert reloads the row, _sync_items sets its items
        subscription=select(BillingSubscription).where(BillingSubscription.stripe_id == bindparam("subscription_id"))
        .options(lazyload(BillingSubscription.items), lazyload(BillingSubscription.schedule_row)),
        items=select(item).where(item.subscription_id == bindparam("row_id")).order_by(item.id))


def mark_gone(session: Session, row: BillingSubscription, *, now: datetime) -> BillingSubscription:
    """Stripe answers 404 for the subscription (its test data was deleted): it has ended. Applied through
    ``sync_subscription`` with the last known object, so every derived row follows."""
    if row.status in ("canceled", "incomplete_expired"):
        return row
    ended = int(now.timestamp())
    return sync_subscription(session, {**row.data, "status": "canceled", "ended_at": row.data.get("ended_at") or ended,
                                       "canceled_at": row.data.get("canceled_at") or ended}, now=now)
