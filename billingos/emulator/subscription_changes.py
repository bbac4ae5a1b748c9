"""Planning a subscription change without writing anything, so the update and ``create_preview`` share
one code path: ``parse_item_changes`` → ``plan_change`` → ``plan_invoice``. The preview of a change is
exactly the invoice the change then produces (immediately, or at the next renewal).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .billing_common import next_boundary
from .catalog import embedded_price, plan_from_price
from .errors import invalid, missing
from .invoice_build import attach_items, pending_items
from .params import Params
from .proration import change_items, credit_items_for
from .subscription_engine import (
    cycle_invoice,
    make_item,
    metered_lines,
    period_lines,
    sub_interval,
    sub_invoice,
    sub_period,
    with_period,
)

if TYPE_CHECKING:
    from .app import Emulator


@dataclass
class ItemChange:
    id: str | None
    price: dict[str, Any] | None
    quantity: int | None
    deleted: bool = False
    metadata: dict[str, str] | None = None
    tax_rates: list[str] | None = None
    param: str = "items"


@dataclass
class Plan:
    items: list[dict[str, Any]]
    prorations: list[dict[str, Any]]
    period: tuple[int, int]
    anchor: int
    reset: bool = False
    invoice_now: bool = False
    old_period: tuple[int, int] | None = None
    old_items: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False
    notes: list[str] = field(default_factory=list)


def tax_rate_ids(em: Emulator, p: Params, key: str) -> list[str] | None:
    raw = p.list(key)
    if raw is None:
        return None
    out = []
    for i, rid in enumerate(raw):
        rate = em.store.get("tax_rate", rid, param=f"{p._name(key)}[{i}]", label="tax rate")
        if not rate["active"]:
            raise invalid(f"Tax rate {rid} is inactive and cannot be applied.", f"{p._name(key)}[{i}]")
        out.append(rid)
    return out


def recurring_price(em: Emulator, pid: Any, param: str) -> dict[str, Any]:
    price = em.store.get("price", pid, param=param)
    if price.get("type") != "recurring" or not price.get("recurring"):
        raise invalid(
            f"The price specified ({pid}) is a one-time price; subscriptions need recurring prices.", param
        )
    if not price.get("active", True):
        raise invalid(
            f"The price specified ({pid}) is inactive. This field only accepts active prices.", param
        )
    return price


def parse_item_changes(
    em: Emulator, p: Params, key: str = "items", *, create: bool = False
) -> list[ItemChange] | None:
    entries = p.hashes(key)
    if entries is None:
        return None
    out = []
    for sub in entries:
        name = sub.prefix
        sid = None if create else sub.str("id")
        pid = sub.str("price", required=create or sid is None)
        price = recurring_price(em, pid, f"{name}[price]") if pid is not None else None
        qty = sub.int("quantity", min=0, max=1_000_000)
        deleted = False if create else bool(sub.bool("deleted", default=False))
        if not create:
            sub.get("clear_usage")
        rates = tax_rate_ids(em, sub, "tax_rates")
        metadata = sub.metadata(None) if sub.has("metadata") else None
        sub.done()
        if (
            price is not None
            and (price.get("recurring") or {}).get("usage_type") == "metered"
            and qty is not None
        ):
            raise invalid("You cannot set the quantity for metered plans.", f"{name}[quantity]")
        out.append(ItemChange(sid, price, qty, deleted, metadata, rates, name))
    return out


def validate_items(items: list[dict[str, Any]], param: str) -> None:
    if not items:
        raise invalid("A subscription must have at least one active price.", param)
    currencies = {i["price"]["currency"] for i in items}
    intervals = {
        (i["price"]["recurring"]["interval"], i["price"]["recurring"].get("interval_count", 1)) for i in items
    }
    if len(currencies) > 1:
        raise invalid("Currency and interval fields must match across all prices on a subscription.", param)
    if len(intervals) > 1:
        raise invalid(
            "Currency and interval fields must match across all prices on a subscription. "
            "Found mismatched intervals.",
            param,
        )
    ids = [i["price"]["id"] for i in items]
    if len(ids) != len(set(ids)):
        raise invalid("Cannot add multiple subscription items with the same price.", param)


def apply_item_changes(
    em: Emulator,
    sub: dict[str, Any],
    changes: list[ItemChange],
    at: int,
) -> tuple[list[dict[str, Any]], list[tuple[Any, Any]]]:
    """New item list and (old, new) pairs. Nothing is written."""
    items = copy.deepcopy(sub["items"]["data"])
    pairs: list[tuple[Any, Any]] = []
    period = sub_period(sub)
    for ch in changes:
        if ch.id is None:
            if ch.price is None:
                raise invalid("Missing required param: price.", f"{ch.param}[price]")
            new = make_item(
                em,
                sub["id"],
                ch.price,
                1 if ch.quantity is None else ch.quantity,
                ch.tax_rates or [],
                ch.metadata or {},
                at,
                period,
            )
            items.append(new)
            pairs.append((None, new))
            continue
        idx = next((k for k, it in enumerate(items) if it["id"] == ch.id), None)
        if idx is None:
            raise missing("subscription item", ch.id, f"{ch.param}[id]")
        old = copy.deepcopy(items[idx])
        if ch.deleted:
            items.pop(idx)
            pairs.append((old, None))
            continue
        item = items[idx]
        if ch.price is not None and ch.price["id"] != item["price"]["id"]:
            item["price"], item["plan"] = embedded_price(ch.price), plan_from_price(ch.price)
        if ch.quantity is not None and item["price"]["recurring"]["usage_type"] != "metered":
            item["quantity"] = ch.quantity
        if ch.price is not None and ch.price["recurring"]["usage_type"] == "metered":
            item["quantity"] = None
        elif item["quantity"] is None:
            item["quantity"] = 1 if ch.quantity is None else ch.quantity
        if ch.metadata is not None:
            item["metadata"] = {**item["metadata"], **ch.metadata}
        if ch.tax_rates is not None:
            item["tax_rates"] = [copy.deepcopy(em.store.objects[r]) for r in ch.tax_rates]
        pairs.append((old, item))
    validate_items(items, "items")
    return items, pairs


def plan_change(
    em: Emulator,
    sub: dict[str, Any],
    changes: list[ItemChange] | None,
    *,
    at: int,
    proration_behavior: str,
    proration_date: int | None,
    anchor_now: bool,
) -> Plan:
    """Everything an update will do to items, periods and invoices. Nothing is written."""
    old_period = sub_period(sub)
    items, pairs = (
        apply_item_changes(em, sub, changes, at) if changes else (copy.deepcopy(sub["items"]["data"]), [])
    )
    trialing = sub["status"] == "trialing"
    interval_changed = sub_interval(items) != sub_interval(sub)
    reset = (anchor_now or interval_changed) and not trialing
    prorate = proration_behavior != "none" and not trialing
    when = at if reset or proration_date is None else proration_date
    if proration_date is not None and not reset and not old_period[0] <= proration_date <= old_period[1]:
        raise invalid(
            "proration_date must be within the subscription's current billing period.", "proration_date"
        )
    plan = Plan(
        items=items,
        prorations=[],
        period=old_period,
        anchor=sub["billing_cycle_anchor"],
        old_period=old_period,
        old_items=copy.deepcopy(sub["items"]["data"]),
        changed=bool(pairs),
    )
    if reset:
        interval, count = sub_interval(items)
        plan.period, plan.anchor, plan.reset, plan.invoice_now = (
            (at, next_boundary(at, interval, count, at)),
            at,
            True,
            True,
        )
        if prorate:
            plan.prorations = credit_items_for(em, sub, sub["items"]["data"], at, old_period)
    elif prorate and pairs:
        plan.prorations = change_items(em, sub, pairs, when, old_period)
        plan.invoice_now = proration_behavior == "always_invoice" and bool(plan.prorations)
    plan.items = with_period(items, plan.period)
    return plan


def plan_invoice(
    em: Emulator, virtual: dict[str, Any], plan: Plan, at: int, *, preview: bool, extra: list[dict[str, Any]]
) -> dict[str, Any]:
    """The invoice the plan produces: now (always_invoice, a new billing cycle) or at the next renewal.

    ``virtual`` is the subscription as it will be after the change; ``extra`` are invoice items the
    change creates that are not stored yet."""
    reason = "upcoming" if preview else "subscription_update"
    if plan.invoice_now:
        inv = sub_invoice(em, virtual, at, reason, plan.period, preview)
        attach_items(em, inv, pending_items(em, virtual["customer"], virtual["id"]) + extra, claim=False)
        if plan.reset:
            period_lines(em, inv, virtual["id"], plan.items, plan.period)
            assert plan.old_period is not None
            metered_lines(em, inv, virtual["id"], plan.old_items, (plan.old_period[0], at))
        return inv
    end = plan.period[1]
    interval, count = sub_interval(plan.items)
    nxt = (end, next_boundary(plan.anchor, interval, count, end))
    return cycle_invoice(
        em,
        virtual,
        at=end,
        items=with_period(plan.items, nxt),
        new_period=nxt,
        old_period=None if virtual["status"] == "trialing" else plan.period,
        reason="upcoming" if preview else "subscription_cycle",
        extra_items=extra,
        preview=preview,
    )
