"""Subscription schedules over HTTP: create (``from_subscription``, or ``customer`` + ``phases``), retrieve,
update, release, cancel, list.

The handlers validate and then hand over: ``schedule_phases.py`` parses and plans phases (writes nothing),
``schedule_engine.py`` is what a schedule does to its subscription over time, ``schedule_shapes.py`` builds
the objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import schedule_engine as engine
from .. import schedule_phases as phases
from ..billing_common import ABSENT, timestamp_param
from ..errors import StripeError, invalid
from ..routing import Request
from ..schedule_shapes import blank_schedule, current_phase, phase, phase_item
from ..store import matches_range
from ..subscription_engine import sub_period
from ..subscription_update import PRORATION_BEHAVIORS, apply_update, plan_for

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/subscription_schedules", create)
    r.add("GET", "/v1/subscription_schedules", list_)
    r.add("GET", "/v1/subscription_schedules/{id}", retrieve)
    r.add("POST", "/v1/subscription_schedules/{id}", update)
    r.add("POST", "/v1/subscription_schedules/{id}/cancel", cancel)
    r.add("POST", "/v1/subscription_schedules/{id}/release", release)


# --- create ----------------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    if p.str("from_subscription") is not None:
        return _from_subscription(em, req)
    cust = em.store.get("customer", p.str("customer", required=True), param="customer")
    at = em.now(cust)
    first = timestamp_param(p, "start_date", allow_now=True)
    if first is ABSENT:
        raise StripeError("Missing required param: start_date.", param="start_date", code="parameter_missing")
    first = at if first == "now" else int(first)
    if first < at:
        raise invalid("A start_date in the past (backdating) is not supported by the billingos emulator; "
                      "use now or a future timestamp.", "start_date")
    specs = phases.parse_phases(em, p, update=False)
    if specs is None:
        raise StripeError("Missing required param: phases.", param="phases", code="parameter_missing")
    end_behavior = p.str("end_behavior", choices=("cancel", "release"), default="release")
    metadata = p.metadata({}) or {}
    phases.refuse_unsupported(p, phases.UNSUPPORTED_TOP)
    p.done()
    sched = blank_schedule(cust, at, end_behavior, metadata)
    sched["phases"] = phases.build_phases(em, specs, phases.timeline(specs, first))
    if first > at:
        em.store.insert(sched)
        em.emit("subscription_schedule.created", sched, request=req)
        return sched
    sub, opts = engine.parse_subscription(em, sched, req)      # validates before anything is stored
    em.store.insert(sched)
    engine.start(em, sched, sub, opts, req)
    return sched


def _from_subscription(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    for key in p.raw:
        if key not in ("from_subscription", "expand"):
            raise invalid(f"You cannot set `{key}` if `from_subscription` is set. Create the schedule, then "
                          "update it.", key)
    sub = em.store.get("subscription", p.str("from_subscription"), param="from_subscription")
    if sub.get("schedule"):
        raise invalid(f"You cannot migrate a subscription that is already attached to a schedule: "
                      f"`{sub['schedule']}`.", "from_subscription")
    if sub["status"] not in engine.LIVE or sub["status"] == "paused":
        raise invalid(f"You cannot create a subscription schedule from a subscription with status "
                      f"`{sub['status']}`.", "from_subscription")
    at = em.now(sub)
    cust = em.store.objects[sub["customer"]]
    sched = blank_schedule(cust, at, "release", {})
    window = sub_period(sub)
    items = [phase_item(em, em.store.objects[i["price"]["id"]], i["quantity"], i.get("metadata") or {},
                        [r["id"] for r in i.get("tax_rates") or []]) for i in sub["items"]["data"]]
    sched["phases"] = [phase(items, window, sub["currency"], "create_prorations", {})]
    sched.update(status="active", subscription=sub["id"], current_phase=current_phase(window))
    em.store.insert(sched)
    em.emit("subscription_schedule.created", sched, request=req)
    engine.set_schedule(em, sub, sched["id"], req)
    return sched


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
    engine.require_open(sched, "update")
    at = em.now(sched)
    specs = phases.parse_phases(em, p, update=True)
    end_behavior = p.str("end_behavior", choices=("cancel", "release"))
    behavior = p.str("proration_behavior", choices=PRORATION_BEHAVIORS, default="create_prorations")
    metadata = p.metadata(sched["metadata"]) if p.has("metadata") else None
    phases.refuse_unsupported(p, phases.UNSUPPORTED_TOP)
    p.done()
    changes: dict[str, Any] = {}
    if end_behavior is not None:
        changes["end_behavior"] = end_behavior
    if metadata is not None:
        changes["metadata"] = metadata
    sub = engine.attached(em, sched)
    spec = None
    if specs is not None:
        changes["phases"], current = phases.replan(em, sched, specs, at, sub)
        if current is not None:
            changes["current_phase"] = current
        if sub is not None:
            spec = engine.phase_update(em, sub, changes["phases"][len(changes["phases"]) - len(specs)], behavior)
            if spec is not None:
                plan_for(em, sub, spec, at)     # refuses an impossible change before anything is written
    prev = em.update(sched, changes)
    if prev:
        em.emit("subscription_schedule.updated", sched, prev, request=req)
    if sub is not None and spec is not None:
        apply_update(em, sub, spec, at, req)
    return sched


# --- release and cancel ----------------------------------------------------------------------------
def release(em: Emulator, req: Request) -> dict[str, Any]:
    sched = retrieve(em, req)
    req.params.bool("preserve_cancel_date")     # the emulator's schedules never set a cancel date
    req.params.done()
    engine.require_open(sched, "release")
    engine.release(em, sched, em.now(sched), req)
    return sched


def cancel(em: Emulator, req: Request) -> dict[str, Any]:
    sched = retrieve(em, req)
    p = req.params
    invoice_now = bool(p.bool("invoice_now", default=True))
    prorate = bool(p.bool("prorate", default=True))
    p.done()
    engine.require_open(sched, "cancel")
    engine.end(em, sched, "canceled", em.now(sched), req,
               cancel_subscription=True, invoice_now=invoice_now, prorate=prorate)
    return sched
