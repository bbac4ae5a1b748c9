"""What a subscription schedule does to its subscription, and when.

A schedule is a list of contiguous phases, each a set of items over ``[start_date, end_date)``. While it is
``active`` it is attached to a subscription (``subscription.schedule``). Time moves it on: the billing
cycle (``billing_cycle.py``) asks ``due`` for the schedules' transitions and interleaves them with its own:

- ``not_started`` → at the first phase's ``start_date`` the subscription is created from that phase.
- at the current phase's ``end_date`` the next phase's items are applied to the subscription with that
  phase's ``proration_behavior``, *before* a renewal due at the same instant, so a phase boundary on the
  period end (a downgrade at renewal) makes the renewal invoice bill the new price, with no prorations.
- after the last phase ends: ``end_behavior=release`` releases the subscription (status ``released``),
  ``cancel`` cancels it (status ``completed``).

A subscription that ends (canceled, expired) cancels its schedule (``aborted`` after failed payments).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from .billing_common import in_clock_scope
from .errors import StripeError, invalid
from .params import Params
from .routing import Request
from .schedule_shapes import current_phase, window_of
from .store import new_id
from .subscription_changes import ItemChange
from .subscription_create import first_invoice, parse_create
from .subscription_engine import cancel_now, collect, maybe_trial_will_end
from .subscription_update import UpdateSpec, apply_update

if TYPE_CHECKING:
    from .app import Emulator

OPEN = ("not_started", "active")
LIVE = ("active", "past_due", "unpaid", "trialing", "paused")
PHASE_ORDER = 6.5   # after a scheduled cancel_at (6), before trial ends (7) and renewals (8) at the same instant


def require_open(sched: dict[str, Any], verb: str) -> None:
    if sched["status"] not in OPEN:
        raise invalid(f"You cannot {verb} a subscription schedule that is currently in the `{sched['status']}` "
                      "status. It must be in the `not_started` or `active` status.")


def attached(em: Emulator, sched: dict[str, Any]) -> dict[str, Any] | None:
    sub = em.store.find(sched.get("subscription") or "")
    return sub if sub is not None and sub["status"] in LIVE else None


def set_schedule(em: Emulator, sub: dict[str, Any], value: str | None, req: Request | None) -> None:
    prev = em.update(sub, {"schedule": value})
    if prev:
        em.emit("customer.subscription.updated", sub, prev, request=req)


# --- the first phase creates the subscription ------------------------------------------------------
def parse_subscription(em: Emulator, sched: dict[str, Any],
                       req: Request | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The subscription the first phase creates, validated by the subscription create path (not stored)."""
    first = sched["phases"][0]
    items = []
    for it in first["items"]:
        item: dict[str, Any] = {"price": it["price"], "metadata": dict(it["metadata"])}
        if it["quantity"] is not None:
            item["quantity"] = it["quantity"]
        if it["tax_rates"]:
            item["tax_rates"] = [r["id"] for r in it["tax_rates"]]
        items.append(item)
    raw = {"customer": sched["customer"], "items": items, "metadata": dict(first["metadata"])}
    fake = Request("POST", "/v1/subscriptions", Params(raw), {}, req.headers if req else {},
                   req.request_id if req else new_id("req", 14), None, [])
    return parse_create(em, fake)


def start(em: Emulator, sched: dict[str, Any], sub: dict[str, Any], opts: dict[str, Any],
          req: Request | None) -> None:
    """The first phase begins: the schedule creates its subscription (as ``POST /v1/subscriptions`` does)."""
    at = opts["at"]
    prev = em.update(sched, {"status": "active", "subscription": sub["id"],
                             "current_phase": current_phase(window_of(sched["phases"][0]))})
    sub["schedule"] = sched["id"]
    em.store.insert(sub)
    inv = first_invoice(em, sub, opts, False)
    sub["latest_invoice"] = inv["id"]
    if sched["created"] == at and req is not None:
        em.emit("subscription_schedule.created", sched, request=req)
    else:
        em.emit("subscription_schedule.updated", sched, prev, request=req)
    em.emit("customer.subscription.created", sub, request=req)
    collect(em, sub, inv, at, req, behavior=opts["payment_behavior"])
    maybe_trial_will_end(em, sub, at, req)


# --- a phase's items onto the subscription ---------------------------------------------------------
def phase_update(em: Emulator, sub: dict[str, Any], ph: dict[str, Any], behavior: str) -> UpdateSpec | None:
    """The subscription update that puts ``ph``'s items on ``sub`` (None when they are already there)."""
    have = sorted((i["price"]["id"], i["quantity"]) for i in sub["items"]["data"])
    want = sorted((i["price"], i["quantity"]) for i in ph["items"])
    fields: dict[str, Any] = {}
    if ph["metadata"]:
        fields["metadata"] = {**sub.get("metadata", {}), **ph["metadata"]}
    if have == want and not fields:
        return None
    return UpdateSpec(items=_item_changes(em, sub, ph["items"]) if have != want else None,
                      proration_behavior=behavior, fields=fields)


def _item_changes(em: Emulator, sub: dict[str, Any], items: list[dict[str, Any]]) -> list[ItemChange]:
    """Keep an item whose price stays; swap prices in place on the others (their ids survive); add or
    delete the rest."""
    remaining = list(sub["items"]["data"])
    out: list[ItemChange] = []
    swaps = []
    for it in items:
        same = next((s for s in remaining if s["price"]["id"] == it["price"]), None)
        if same is None:
            swaps.append(it)
            continue
        remaining.remove(same)
        out.append(ItemChange(same["id"], None, it["quantity"], metadata=it["metadata"] or None))
    for it in swaps:
        price = em.store.objects[it["price"]]
        old = remaining.pop(0)["id"] if remaining else None
        out.append(ItemChange(old, price, it["quantity"], metadata=it["metadata"] or None))
    out += [ItemChange(s["id"], None, None, deleted=True) for s in remaining]
    return out


# --- endings ---------------------------------------------------------------------------------------
def release(em: Emulator, sched: dict[str, Any], at: int, req: Request | None) -> None:
    sub_id = sched.get("subscription")
    prev = em.update(sched, {"status": "released", "released_at": at, "released_subscription": sub_id,
                             "subscription": None, "current_phase": None})
    em.emit("subscription_schedule.released", sched, prev, request=req)
    sub = em.store.find(sub_id or "")
    if sub is not None and sub.get("schedule") == sched["id"]:
        set_schedule(em, sub, None, req)


def end(em: Emulator, sched: dict[str, Any], status: str, at: int, req: Request | None = None, *,
        event: str | None = None, cancel_subscription: bool = False, invoice_now: bool = False,
        prorate: bool = False) -> None:
    """``canceled`` or ``completed``; with ``cancel_subscription`` the attached subscription is canceled
    too, before the schedule's event, as Stripe orders them."""
    sub = attached(em, sched)
    prev = em.update(sched, {"status": status, f"{status}_at": at, "current_phase": None})
    if sub is not None and cancel_subscription:
        cancel_now(em, sub, at, req, reason="cancellation_requested", invoice_now=invoice_now, prorate=prorate)
    em.emit(event or f"subscription_schedule.{status}", sched, prev, request=req)


def on_event(em: Emulator, event: dict[str, Any]) -> None:
    """A subscription that ends takes its open schedule with it (``aborted`` after failed payments)."""
    obj = event["data"]["object"]
    if obj.get("object") != "subscription" or not obj.get("schedule"):
        return
    if event["type"] != "customer.subscription.deleted" and obj.get("status") != "incomplete_expired":
        return
    sched = em.store.find(obj["schedule"])
    if sched is None or sched["status"] not in OPEN:
        return
    failed = (obj.get("cancellation_details") or {}).get("reason") == "payment_failed"
    end(em, sched, "canceled", em.now(sched), event="subscription_schedule.aborted" if failed else None)


# --- time ------------------------------------------------------------------------------------------
def due(em: Emulator, clock_id: str | None) -> list[tuple[int, float, dict[str, Any], Any]]:
    """The billing cycle's extension: (time, order, schedule, run) for each open schedule in scope."""
    out: list[tuple[int, float, dict[str, Any], Any]] = []
    for sched in em.store.all("subscription_schedule"):
        if not in_clock_scope(em, sched, clock_id):
            continue
        if sched["status"] == "not_started":
            out.append((sched["phases"][0]["start_date"], PHASE_ORDER, sched, _start_due))
        elif sched["status"] == "active" and sched.get("current_phase"):
            out.append((sched["current_phase"]["end_date"], PHASE_ORDER, sched, _transition))
    return out


def _start_due(em: Emulator, sched: dict[str, Any], t: int) -> None:
    try:
        sub, opts = parse_subscription(em, sched, None)
    except StripeError:     # e.g. a price archived since: Stripe would cancel the schedule
        end(em, sched, "canceled", t)
        return
    start(em, sched, sub, opts, None)


def _transition(em: Emulator, sched: dict[str, Any], t: int) -> None:
    """The current phase ended at ``t``: enter the next phase, or finish per ``end_behavior``."""
    nxt = next((ph for ph in sched["phases"] if ph["start_date"] == t), None)
    sub = attached(em, sched)
    if nxt is None:
        if sched["end_behavior"] == "cancel":
            end(em, sched, "completed", t, cancel_subscription=True)
        else:
            release(em, sched, t, None)
        return
    prev = em.update(sched, {"current_phase": current_phase(window_of(nxt))})
    em.emit("subscription_schedule.updated", sched, prev)
    if sub is None:
        return
    spec = phase_update(em, sub, nxt, nxt["proration_behavior"])
    if spec is not None:
        with contextlib.suppress(StripeError):   # a phase that no longer fits: the subscription keeps its items
            apply_update(em, sub, spec, t, None)
