"""Billing meters: create, retrieve, list, update (display_name), deactivate and reactivate.

Shape per Stripe's ``billing.meter``. ``event_name`` is unique among the account's active meters, as in
Stripe; ``event_name``, aggregation, customer mapping and value settings cannot change after creation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import invalid
from ..routing import Request
from ..store import new_id

if TYPE_CHECKING:
    from ..app import Emulator

KIND = "billing.meter"
_EVENT_NAME = re.compile(r"[A-Za-z0-9_\-.:]+")


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/billing/meters", create)
    r.add("GET", "/v1/billing/meters", list_)
    r.add("GET", "/v1/billing/meters/{id}", retrieve)
    r.add("POST", "/v1/billing/meters/{id}", update)
    r.add("POST", "/v1/billing/meters/{id}/deactivate", deactivate)
    r.add("POST", "/v1/billing/meters/{id}/reactivate", reactivate)


def _active_with(em: Emulator, event_name: str) -> dict[str, Any] | None:
    for m in em.store.all(KIND):
        if m["event_name"] == event_name and m["status"] == "active":
            return m
    return None


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    display_name = p.str("display_name", required=True, max_length=250)
    event_name = p.str("event_name", required=True, max_length=100)
    if not _EVENT_NAME.fullmatch(event_name):
        raise invalid(f"Invalid event_name '{event_name}': use letters, digits, '_', '-', '.' or ':'.",
                      "event_name")
    agg = p.sub("default_aggregation", required=True)
    assert agg is not None
    formula = agg.str("formula", required=True, choices=("sum", "count", "last"))
    agg.done()
    mapping = {"event_payload_key": "stripe_customer_id", "type": "by_id"}
    cm = p.sub("customer_mapping")
    if cm is not None:
        mapping = {"event_payload_key": cm.str("event_payload_key", required=True, max_length=100),
                   "type": cm.str("type", required=True, choices=("by_id",))}
        cm.done()
    value_key = "value"
    vs = p.sub("value_settings")
    if vs is not None:
        value_key = vs.str("event_payload_key", required=True, max_length=100)
        vs.done()
    window = p.str("event_time_window", choices=("day", "hour"))
    p.done()
    if _active_with(em, event_name) is not None:
        raise invalid(f"An active meter with event_name '{event_name}' already exists.", "event_name",
                      code="resource_already_exists")
    now = em.now()
    meter: dict[str, Any] = {
        "id": new_id("mtr", 24), "object": KIND, "created": now,
        "customer_mapping": mapping, "default_aggregation": {"formula": formula},
        "display_name": display_name, "event_name": event_name, "event_time_window": window,
        "livemode": False, "status": "active", "status_transitions": {"deactivated_at": None},
        "updated": now, "value_settings": {"event_payload_key": value_key},
    }
    em.store.insert(meter)
    em.emit("billing.meter.created", meter, request=req)
    return meter


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get(KIND, req.args["id"], label="billing meter")


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    status = p.str("status", choices=("active", "inactive"))
    items = em.store.all(KIND)
    if status is not None:
        items = [m for m in items if m["status"] == status]
    return em.store.page(p, items, "/v1/billing/meters")


def update(em: Emulator, req: Request) -> dict[str, Any]:
    meter = em.store.get(KIND, req.args["id"], label="billing meter")
    p = req.params
    changes: dict[str, Any] = {}
    if p.has("display_name"):
        changes["display_name"] = p.str("display_name", required=True, max_length=250)
    p.done()
    previous = em.update(meter, changes)
    if previous:
        meter["updated"] = em.now()
        em.emit("billing.meter.updated", meter, previous, request=req)
    return meter


def deactivate(em: Emulator, req: Request) -> dict[str, Any]:
    meter = em.store.get(KIND, req.args["id"], label="billing meter")
    req.params.done()
    if meter["status"] == "inactive":
        raise invalid(f"The meter '{meter['id']}' is already inactive.", code="billing_meter_invalid_status")
    now = em.now()
    previous = em.update(meter, {"status": "inactive", "status_transitions": {"deactivated_at": now},
                                 "updated": now})
    em.emit("billing.meter.deactivated", meter, previous, request=req)
    return meter


def reactivate(em: Emulator, req: Request) -> dict[str, Any]:
    meter = em.store.get(KIND, req.args["id"], label="billing meter")
    req.params.done()
    if meter["status"] == "active":
        raise invalid(f"The meter '{meter['id']}' is already active.", code="billing_meter_invalid_status")
    if _active_with(em, meter["event_name"]) is not None:
        raise invalid(f"An active meter with event_name '{meter['event_name']}' already exists.",
                      "event_name", code="resource_already_exists")
    previous = em.update(meter, {"status": "active", "status_transitions": {"deactivated_at": None},
                                 "updated": em.now()})
    em.emit("billing.meter.reactivated", meter, previous, request=req)
    return meter
