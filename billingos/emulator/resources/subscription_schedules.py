"""Subscription schedules: create (``from_subscription``, or ``customer`` + ``phases``), retrieve, update,
release, cancel, list.

A schedule is a list of contiguous phases, each a set of items over ``[start_date, end_date)``. While it is
``active`` it is attached to a subscription (``subscription.schedule``). Time moves it on through the
billing cycle's extension point (``em.extensions["billing_cycle_extensions"]``, see ``billing_cycle.py``):

- ``not_started`` → at the first phase's ``start_date`` the subscription is created from that phase.
- at the current phase's ``end_date`` the next phase's items are applied to the subscription with that
  phase's ``proration_behavior``, *before* a renewal due at the same instant, so a phase boundary on the
  period end (a downgrade at renewal) makes the renewal invoice bill the new price, with no prorations.
- after the last phase ends: ``end_behavior=release`` releases the subscription (status ``released``),
  ``cancel`` cancels it (status ``completed``).

A subscription that ends (canceled, expired) cancels its schedule (``aborted`` after failed payments).
Phase lengths: ``end_date``, or ``duration`` (``interval``, ``interval_count``); neither means one interval of
the phase's first price. ``iterations`` was removed from the API in 2025-09-30.clover and is refused.
Phase settings other than items, metadata, currency and proration_behavior are refused as unsupported.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..billing_common import ABSENT, add_interval, timestamp_param
from ..errors import StripeError, invalid
from ..params import Params
from ..routing import Request
from ..store import matches_range, new_id
from ..subscription_changes import ItemChange, _validate_items, parse_item_changes
from ..subscription_update import PRORATION_BEHAVIORS, UpdateSpec, apply_update, plan_for

if TYPE_CHECKING:
    from ..app import Emulator

OPEN = ("not_started", "active")
LIVE = ("active", "past_due", "unpaid", "trialing", "paused")
PHASE_ORDER = 6.5   # after a scheduled cancel_at (6), before trial ends (7) and renewals (8) at the same instant
_UNSUPPORTED_PHASE = ("add_invoice_items", "application_fee_percent", "automatic_tax", "billing_cycle_anchor",
                      "billing_thresholds", "collection_method", "default_payment_method", "default_tax_rates",
                      "description", "discounts", "invoice_settings", "on_behalf_of", "transfer_data", "trial",
                      "trial_end")
_UNSUPPORTED_TOP = ("default_settings", "billing_mode", "pause_schedules", "customer_account")


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/subscription_schedules", create)
    r.add("GET", "/v1/subscription_schedules", list_)
    r.add("GET", "/v1/subscription_schedules/{id}", retrieve)
    r.add("POST", "/v1/subscription_schedules/{id}", update)
    r.add("POST", "/v1/subscription_schedules/{id}/cancel", cancel)
    r.add("POST", "/v1/subscription_schedules/{id}/release", release)
    finders = em.extensions.setdefault("billing_cycle_extensions", [])
    if due not in finders:
        finders.append(due)
    em.event_hooks.append(lambda event: _on_event(em, event))


# --- shapes ----------------------------------------------------------------------------------------
def _blank(cust: dict[str, Any], at: int, end_behavior: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": new_id("sub_sched", 24),
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": {"flexible": None, "type": "classic", "updated_at": None},
        "canceled_at": None,
        "completed_at": None,
        "created": at,
        "current_phase": None,
        "customer": cust["id"],
        "customer_account": None,
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {"account_tax_ids": None, "custom_fields": None, "days_until_due": None,
                                 "description": None, "footer": None, "issuer": {"type": "self"}},
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "end_behavior": end_behavior,
        "livemode": False,
        "metadata": metadata,
        "pause_schedules": [],
        "phases": [],
        "released_at": None,
        "released_subscription": None,
        "status": "not_started",
        "subscription": None,
        "test_clock": cust.get("test_clock"),
    }


def _phase_item(em: Emulator, price: dict[str, Any], quantity: int | None, metadata: dict[str, str],
                tax_rates: list[str]) -> dict[str, Any]:
    metered = (price.get("recurring") or {}).get("usage_type") == "metered"
    return {"billing_thresholds": None, "discounts": [], "metadata": dict(metadata), "plan": price["id"],
            "price": price["id"], "quantity": None if metered else (1 if quantity is None else quantity),
            "tax_rates": [copy.deepcopy(em.store.objects[r]) for r in tax_rates]}


def _phase(items: list[dict[str, Any]], window: tuple[int, int], currency: str, proration_behavior: str,
           metadata: dict[str, str]) -> dict[str, Any]:
    return {"add_invoice_items": [], "application_fee_percent": None, "billing_cycle_anchor": None,
            "billing_thresholds": None, "collection_method": None, "currency": currency,
            "default_payment_method": None, "default_tax_rates": [], "description": None, "discounts": [],
            "end_date": window[1], "invoice_settings": None, "items": items, "metadata": metadata,
            "on_behalf_of": None, "proration_behavior": proration_behavior, "start_date": window[0],
            "transfer_data": None, "trial_end": None}


# --- parsing (writes nothing) ----------------------------------------------------------------------
@dataclass
class PhaseSpec:
    changes: list[ItemChange]
    start: Any          # ABSENT, "now" or a timestamp (updates only)
    end: Any            # ABSENT or a timestamp
    duration: tuple[str, int] | None
    proration_behavior: str
    metadata: dict[str, str]
    currency: str
    name: str


def _refuse_unsupported(p: Params, keys: tuple[str, ...]) -> None:
    for key in keys:
        if p.get(key) not in (None, "", [], {}):
            raise invalid(f"{p._name(key)} is not supported by the billingos emulator's subscription schedules.",
                          p._name(key))


def _parse_phases(em: Emulator, p: Params, *, update: bool) -> list[PhaseSpec] | None:
    raw = p.list("phases")
    if raw is None:
        return None
    if not raw:
        raise invalid("phases must contain at least one phase.", "phases")
    out = []
    for i, entry in enumerate(raw):
        name = f"phases[{i}]"
        if not isinstance(entry, dict):
            raise invalid(f"Invalid object: {name} must be a hash.", name)
        ph = Params(entry, name)
        _refuse_unsupported(ph, _UNSUPPORTED_PHASE)
        if ph.has("iterations"):
            raise invalid(f"Received unknown parameter: {name}[iterations]. It was removed in API version "
                          "2025-09-30.clover; use duration[interval] and duration[interval_count].",
                          f"{name}[iterations]")
        changes = parse_item_changes(em, ph, "items", create=True)
        if not changes:
            raise StripeError(f"Missing required param: {name}[items].", param=f"{name}[items]",
                              code="parameter_missing")
        _validate_items([{"price": c.price} for c in changes], f"{name}[items]")
        start = timestamp_param(ph, "start_date", allow_now=True) if update else ABSENT
        end = timestamp_param(ph, "end_date")
        duration = _duration(ph)
        if end is not ABSENT and duration is not None:
            raise invalid("You may only specify one of these parameters: duration, end_date.", f"{name}[end_date]")
        behavior = ph.str("proration_behavior", choices=PRORATION_BEHAVIORS, default="create_prorations")
        metadata = ph.metadata({}) or {}
        currency = changes[0].price["currency"] if changes[0].price else "usd"
        given = ph.str("currency")
        if given is not None and given.lower() != currency:
            raise invalid(f"The currency {given} does not match the currency of {name}'s prices ({currency}).",
                          f"{name}[currency]")
        ph.done()
        out.append(PhaseSpec(changes, start, end, duration, behavior, metadata, currency, name))
    return out


def _duration(ph: Params) -> tuple[str, int] | None:
    d = ph.sub("duration")
    if d is None:
        return None
    interval = d.str("interval", required=True, choices=("day", "week", "month", "year"))
    count = d.int("interval_count", min=1, max=1000, default=1)
    d.done()
    return interval, count


def _timeline(specs: list[PhaseSpec], first_start: int) -> list[tuple[int, int]]:
    """Each phase's [start, end): contiguous, each starting where the previous one ends."""
    out = []
    start = first_start
    for i, s in enumerate(specs):
        if i > 0 and s.start is not ABSENT and s.start != start:
            raise invalid(f"{s.name}[start_date] must equal the end_date of phases[{i - 1}] ({start}): "
                          "phases must be contiguous.", f"{s.name}[start_date]")
        if s.end is not ABSENT:
            end = int(s.end)
        else:
            rec = (s.changes[0].price or {}).get("recurring") or {}
            interval, count = s.duration or (rec["interval"], int(rec.get("interval_count") or 1))
            end = add_interval(start, interval, count)
        if end <= start:
            raise invalid(f"{s.name}[end_date] must be after the phase's start_date ({start}).",
                          f"{s.name}[end_date]")
        out.append((start, end))
        start = end
    return out


def _phases(em: Emulator, specs: list[PhaseSpec], windows: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [_phase([_phase_item(em, c.price, c.quantity, c.metadata or {}, c.tax_rates or [])
                    for c in s.changes if c.price is not None], w, s.currency, s.proration_behavior, s.metadata)
            for s, w in zip(specs, windows, strict=True)]


def _require_open(sched: dict[str, Any], verb: str) -> None:
    if sched["status"] not in OPEN:
        raise invalid(f"You cannot {verb} a subscription schedule that is currently in the `{sched['status']}` "
                      "status. It must be in the `not_started` or `active` status.")


def _attached(em: Emulator, sched: dict[str, Any]) -> dict[str, Any] | None:
    sub = em.store.find(sched.get("subscription") or "")
    return sub if sub is not None and sub["status"] in LIVE else None


# --- create ----------------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    if p.str("from_subscription") is not None:
        return _from_subscription(em, req)
    cust = em.store.get("customer", p.str("customer", required=True), param="customer")
    at = em.now(cust)
    start = timestamp_param(p, "start_date", allow_now=True)
    if start is ABSENT:
        raise StripeError("Missing required param: start_date.", param="start_date", code="parameter_missing")
    start = at if start == "now" else int(start)
    if start < at:
        raise invalid("A start_date in the past (backdating) is not supported by the billingos emulator; "
                      "use now or a future timestamp.", "start_date")
    specs = _parse_phases(em, p, update=False)
    if specs is None:
        raise StripeError("Missing required param: phases.", param="phases", code="parameter_missing")
    end_behavior = p.str("end_behavior", choices=("cancel", "release"), default="release")
    metadata = p.metadata({}) or {}
    _refuse_unsupported(p, _UNSUPPORTED_TOP)
    p.done()
    sched = _blank(cust, at, end_behavior, metadata)
    sched["phases"] = _phases(em, specs, _timeline(specs, start))
    if start > at:
        em.store.insert(sched)
        em.emit("subscription_schedule.created", sched, request=req)
        return sched
    sub, opts = _parse_subscription(em, sched, req)      # validates before anything is stored
    em.store.insert(sched)
    _start(em, sched, sub, opts, req)
    return sched


def _from_subscription(em: Emulator, req: Request) -> dict[str, Any]:
    from ..subscription_engine import sub_period

    p = req.params
    for key in p.raw:
        if key not in ("from_subscription", "expand"):
            raise invalid(f"You cannot set `{key}` if `from_subscription` is set. Create the schedule, then "
                          "update it.", key)
    sub = em.store.get("subscription", p.str("from_subscription"), param="from_subscription")
    if sub.get("schedule"):
        raise invalid(f"You cannot migrate a subscription that is already attached to a schedule: "
                      f"`{sub['schedule']}`.", "from_subscription")
    if sub["status"] not in LIVE or sub["status"] == "paused":
        raise invalid(f"You cannot create a subscription schedule from a subscription with status "
                      f"`{sub['status']}`.", "from_subscription")
    at = em.now(sub)
    cust = em.store.objects[sub["customer"]]
    sched = _blank(cust, at, "release", {})
    window = sub_period(sub)
    items = [_phase_item(em, em.store.objects[i["price"]["id"]], i["quantity"], i.get("metadata") or {},
                         [r["id"] for r in i.get("tax_rates") or []]) for i in sub["items"]["data"]]
    sched["phases"] = [_phase(items, window, sub["currency"], "create_prorations", {})]
    sched.update(status="active", subscription=sub["id"],
                 current_phase={"end_date": window[1], "start_date": window[0]})
    em.store.insert(sched)
    em.emit("subscription_schedule.created", sched, request=req)
    _set_schedule(em, sub, sched["id"], req)
    return sched


def _set_schedule(em: Emulator, sub: dict[str, Any], value: str | None, req: Request | None) -> None:
    prev = em.update(sub, {"schedule": value})
    if prev:
        em.emit("customer.subscription.updated", sub, prev, request=req)


def _parse_subscription(em: Emulator, sched: dict[str, Any],
                        req: Request | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The subscription the first phase creates, validated by the subscription create path (not stored)."""
    from .subscriptions import _parse_create

    phase = sched["phases"][0]
    items = []
    for it in phase["items"]:
        item: dict[str, Any] = {"price": it["price"], "metadata": dict(it["metadata"])}
        if it["quantity"] is not None:
            item["quantity"] = it["quantity"]
        if it["tax_rates"]:
            item["tax_rates"] = [r["id"] for r in it["tax_rates"]]
        items.append(item)
    raw = {"customer": sched["customer"], "items": items, "metadata": dict(phase["metadata"])}
    fake = Request("POST", "/v1/subscriptions", Params(raw), {}, req.headers if req else {},
                   req.request_id if req else new_id("req", 14), None, [])
    return _parse_create(em, fake)


def _start(em: Emulator, sched: dict[str, Any], sub: dict[str, Any], opts: dict[str, Any],
           req: Request | None) -> None:
    """The first phase begins: the schedule creates its subscription (as ``POST /v1/subscriptions`` does)."""
    from ..subscription_engine import collect, maybe_trial_will_end
    from .subscriptions import _first_invoice

    at = opts["at"]
    phase = sched["phases"][0]
    prev = em.update(sched, {"status": "active", "subscription": sub["id"],
                             "current_phase": {"end_date": phase["end_date"], "start_date": phase["start_date"]}})
    sub["schedule"] = sched["id"]
    em.store.insert(sub)
    inv = _first_invoice(em, sub, opts, False)
    sub["latest_invoice"] = inv["id"]
    if sched["created"] == at and req is not None:
        em.emit("subscription_schedule.created", sched, request=req)
    else:
        em.emit("subscription_schedule.updated", sched, prev, request=req)
    em.emit("customer.subscription.created", sub, request=req)
    collect(em, sub, inv, at, req, behavior=opts["payment_behavior"])
    maybe_trial_will_end(em, sub, at, req)


# --- read ------------------------------------------------------------------------------------------
def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("subscription_schedule", req.args["id"], label="subscription schedule")


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, scheduled = p.str("customer"), p.bool("scheduled")
    items = em.store.all("subscription_schedule")
    if customer is not None:
        items = [s for s in items if s["customer"] == customer]
    if scheduled is not None:
        items = [s for s in items if (s["status"] == "not_started") == scheduled]
    for key in ("created", "canceled_at", "completed_at", "released_at"):
        spec = p.get(key)
        if spec is not None:
            items = [s for s in items if s[key] is not None and matches_range(s[key], spec, key)]
    return em.store.page(p, items, "/v1/subscription_schedules")


# --- update ----------------------------------------------------------------------------------------
def update(em: Emulator, req: Request) -> dict[str, Any]:
    sched = retrieve(em, req)
    p = req.params
    _require_open(sched, "update")
    at = em.now(sched)
    specs = _parse_phases(em, p, update=True)
    end_behavior = p.str("end_behavior", choices=("cancel", "release"))
    behavior = p.str("proration_behavior", choices=PRORATION_BEHAVIORS, default="create_prorations")
    metadata = p.metadata(sched["metadata"]) if p.has("metadata") else None
    _refuse_unsupported(p, _UNSUPPORTED_TOP)
    p.done()
    changes: dict[str, Any] = {}
    if end_behavior is not None:
        changes["end_behavior"] = end_behavior
    if metadata is not None:
        changes["metadata"] = metadata
    sub = _attached(em, sched)
    spec = None
    if specs is not None:
        changes["phases"], current = _replan(em, sched, specs, at, sub)
        if current is not None:
            changes["current_phase"] = current
        if sub is not None:
            spec = _phase_spec(em, sub, changes["phases"][len(changes["phases"]) - len(specs)], behavior)
            if spec is not None:
                plan_for(em, sub, spec, at)     # refuses an impossible change before anything is written
    prev = em.update(sched, changes)
    if prev:
        em.emit("subscription_schedule.updated", sched, prev, request=req)
    if sub is not None and spec is not None:
        apply_update(em, sub, spec, at, req)
    return sched


def _replan(em: Emulator, sched: dict[str, Any], specs: list[PhaseSpec], at: int,
            sub: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    first = specs[0]
    if sched["status"] == "active":
        current = sched["current_phase"]
        start = current["start_date"]
        if first.start is not ABSENT and (at if first.start == "now" else first.start) != start:
            raise invalid("You can not modify the start date of the current phase.", "phases[0][start_date]")
        past = [ph for ph in sched["phases"] if ph["end_date"] <= start]
    else:
        start = sched["phases"][0]["start_date"] if first.start is ABSENT else first.start
        start = at if start == "now" else int(start)
        if start <= at:
            raise invalid("The start_date of a schedule that has not started must be in the future.",
                          "phases[0][start_date]")
        past = []
    windows = _timeline(specs, start)
    if sched["status"] == "active" and windows[0][1] <= at:
        raise invalid("The current phase's end_date must be in the future.", "phases[0][end_date]")
    currency = sub["currency"] if sub is not None else specs[0].currency
    for s in specs:
        if s.currency != currency:
            raise invalid(f"The prices of {s.name} must be in the subscription's currency ({currency}).",
                          f"{s.name}[items]")
    phases = past + _phases(em, specs, windows)
    current_phase = {"end_date": windows[0][1], "start_date": windows[0][0]} if sched["status"] == "active" else None
    return phases, current_phase


def _phase_spec(em: Emulator, sub: dict[str, Any], phase: dict[str, Any], behavior: str) -> UpdateSpec | None:
    """The subscription update that puts ``phase``'s items on ``sub`` (None when they are already there)."""
    have = sorted((i["price"]["id"], i["quantity"]) for i in sub["items"]["data"])
    want = sorted((i["price"], i["quantity"]) for i in phase["items"])
    fields: dict[str, Any] = {}
    if phase["metadata"]:
        fields["metadata"] = {**sub.get("metadata", {}), **phase["metadata"]}
    if have == want and not fields:
        return None
    return UpdateSpec(items=_item_changes(em, sub, phase["items"]) if have != want else None,
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


# --- release and cancel ----------------------------------------------------------------------------
def release(em: Emulator, req: Request) -> dict[str, Any]:
    sched = retrieve(em, req)
    req.params.bool("preserve_cancel_date")     # the emulator's schedules never set a cancel date
    req.params.done()
    _require_open(sched, "release")
    _release(em, sched, em.now(sched), req)
    return sched


def _release(em: Emulator, sched: dict[str, Any], at: int, req: Request | None) -> None:
    sub_id = sched.get("subscription")
    prev = em.update(sched, {"status": "released", "released_at": at, "released_subscription": sub_id,
                             "subscription": None, "current_phase": None})
    em.emit("subscription_schedule.released", sched, prev, request=req)
    sub = em.store.find(sub_id or "")
    if sub is not None and sub.get("schedule") == sched["id"]:
        _set_schedule(em, sub, None, req)


def cancel(em: Emulator, req: Request) -> dict[str, Any]:
    from ..subscription_engine import cancel_now

    sched = retrieve(em, req)
    p = req.params
    invoice_now = bool(p.bool("invoice_now", default=True))
    prorate = bool(p.bool("prorate", default=True))
    p.done()
    _require_open(sched, "cancel")
    at = em.now(sched)
    sub = _attached(em, sched)
    prev = em.update(sched, {"status": "canceled", "canceled_at": at, "current_phase": None})
    if sub is not None:
        cancel_now(em, sub, at, req, reason="cancellation_requested", invoice_now=invoice_now, prorate=prorate)
    em.emit("subscription_schedule.canceled", sched, prev, request=req)
    return sched


def _on_event(em: Emulator, event: dict[str, Any]) -> None:
    """A subscription that ends takes its open schedule with it (``aborted`` after failed payments)."""
    obj = event["data"]["object"]
    if obj.get("object") != "subscription" or not obj.get("schedule"):
        return
    if event["type"] != "customer.subscription.deleted" and obj.get("status") != "incomplete_expired":
        return
    sched = em.store.find(obj["schedule"])
    if sched is None or sched["status"] not in OPEN:
        return
    prev = em.update(sched, {"status": "canceled", "canceled_at": em.now(sched), "current_phase": None})
    reason = (obj.get("cancellation_details") or {}).get("reason")
    em.emit("subscription_schedule.aborted" if reason == "payment_failed" else "subscription_schedule.canceled",
            sched, prev)


# --- time ------------------------------------------------------------------------------------------
def due(em: Emulator, clock_id: str | None) -> list[tuple[int, float, dict[str, Any], Any]]:
    """The billing cycle's extension: (time, order, schedule, run) for each open schedule in scope."""
    from ..billing_cycle import _in_scope

    out: list[tuple[int, float, dict[str, Any], Any]] = []
    for sched in em.store.all("subscription_schedule"):
        if not _in_scope(em, sched, clock_id):
            continue
        if sched["status"] == "not_started":
            out.append((sched["phases"][0]["start_date"], PHASE_ORDER, sched, _start_due))
        elif sched["status"] == "active" and sched.get("current_phase"):
            out.append((sched["current_phase"]["end_date"], PHASE_ORDER, sched, _transition))
    return out


def _start_due(em: Emulator, sched: dict[str, Any], t: int) -> None:
    try:
        sub, opts = _parse_subscription(em, sched, None)
    except StripeError:     # e.g. a price archived since: Stripe would cancel the schedule
        prev = em.update(sched, {"status": "canceled", "canceled_at": t})
        em.emit("subscription_schedule.canceled", sched, prev)
        return
    _start(em, sched, sub, opts, None)


def _transition(em: Emulator, sched: dict[str, Any], t: int) -> None:
    """The current phase ended at ``t``: enter the next phase, or finish per ``end_behavior``."""
    from ..subscription_engine import cancel_now

    nxt = next((ph for ph in sched["phases"] if ph["start_date"] == t), None)
    sub = _attached(em, sched)
    if nxt is None:
        if sched["end_behavior"] == "cancel":
            prev = em.update(sched, {"status": "completed", "completed_at": t, "current_phase": None})
            if sub is not None:
                cancel_now(em, sub, t, None, reason="cancellation_requested")
            em.emit("subscription_schedule.completed", sched, prev)
        else:
            _release(em, sched, t, None)
        return
    prev = em.update(sched, {"current_phase": {"end_date": nxt["end_date"], "start_date": nxt["start_date"]}})
    em.emit("subscription_schedule.updated", sched, prev)
    if sub is None:
        return
    spec = _phase_spec(em, sub, nxt, nxt["proration_behavior"])
    if spec is not None:
        with contextlib.suppress(StripeError):   # a phase that no longer fits: the subscription keeps its items
            apply_update(em, sub, spec, t, None)
