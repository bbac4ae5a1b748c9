"""Test clocks (``/v1/test_helpers/test_clocks``): frozen time for the customers created on them.

``advance`` answers like Stripe: the clock as it starts advancing (``status: advancing``, the old
``frozen_time``). The emulator then does the work at once, so the next retrieve shows ``ready``.
Time-based work runs through ``em.hooks.clock_advance`` (the billing cycle first): callables
``hook(em, clock, old_time, new_time)`` run in order before the clock is set ready. A hook may
step ``clock["frozen_time"]`` forward as it works, so what it creates carries the time it happened.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..errors import invalid
from ..routing import Request
from ..store import new_id

if TYPE_CHECKING:
    from ..app import Emulator

KIND = "test_helpers.test_clock"
LABEL = "test clock"
DELETES_AFTER = 7 * 24 * 3600                    # as in Stripe's examples
MAX_AHEAD_NO_SUBSCRIPTIONS = 2 * 365 * 24 * 3600  # "no more than two years" without subscriptions
_INTERVAL_SECONDS = {"day": 86400, "week": 7 * 86400, "month": 31 * 86400, "year": 366 * 86400}


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/test_helpers/test_clocks", create)
    r.add("GET", "/v1/test_helpers/test_clocks", list_)
    r.add("GET", "/v1/test_helpers/test_clocks/{id}", retrieve)
    r.add("DELETE", "/v1/test_helpers/test_clocks/{id}", delete)
    r.add("POST", "/v1/test_helpers/test_clocks/{id}/advance", advance)


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    frozen = p.int("frozen_time", required=True, min=0)
    name = p.str("name", max_length=300)
    p.done()
    created = em.now()
    clock = {"id": new_id("clock"), "object": KIND, "created": created,
             "deletes_after": created + DELETES_AFTER, "frozen_time": frozen, "livemode": False, "name": name,
             "status": "ready", "status_details": {}}
    em.store.insert(clock)
    em.emit("test_helpers.test_clock.created", clock, request=req)
    return clock


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    req.params.done()
    return em.store.get(KIND, req.args["id"], label=LABEL)


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.page(req.params, em.store.all(KIND), "/v1/test_helpers/test_clocks")


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    clock = em.store.get(KIND, req.args["id"], label=LABEL)
    req.params.done()
    for cust in [c for c in em.store.all("customer") if c.get("test_clock") == clock["id"]]:
        em.store.delete(cust["id"])      # Stripe deletes a clock's customers with it
        em.emit("customer.deleted", cust, request=req)
    em.store.delete(clock["id"])
    em.emit("test_helpers.test_clock.deleted", clock, request=req)
    return {"id": clock["id"], "object": KIND, "deleted": True}


def advance(em: Emulator, req: Request) -> dict[str, Any]:
    clock = em.store.get(KIND, req.args["id"], label=LABEL)
    p = req.params
    new_time = p.int("frozen_time", required=True)
    p.done()
    old_time = int(clock["frozen_time"])
    _check_target(em, clock, old_time, new_time)
    target = {"advancing": {"target_frozen_time": new_time}}
    em.update(clock, {"status": "advancing", "status_details": target})
    answer = copy.deepcopy(clock)
    em.emit("test_helpers.test_clock.advancing", clock, request=req)
    try:
        for hook in list(em.hooks.clock_advance):
            hook(em, clock, old_time, new_time)
    except Exception:
        em.update(clock, {"status": "internal_failure", "status_details": {}})
        em.emit("test_helpers.test_clock.internal_failure", clock, request=req)
        raise
    em.update(clock, {"frozen_time": new_time, "status": "ready", "status_details": {}})
    em.emit("test_helpers.test_clock.ready", clock, request=req)
    return answer


def _check_target(em: Emulator, clock: dict[str, Any], old_time: int, new_time: int) -> None:
    if clock["status"] == "advancing":
        raise invalid("The test clock is already advancing. Wait until its status is ready.",
                      code="test_clock_advancing")
    if new_time <= old_time:
        raise invalid(f"The frozen_time ({new_time}) must be after the test clock's current frozen_time "
                      f"({old_time}). A test clock cannot move backwards.", "frozen_time")
    limit, why = _max_target(em, clock, old_time)
    if new_time > limit:
        raise invalid(f"Cannot advance the test clock to {new_time}: it may move at most to {limit} ({why}).",
                      "frozen_time")


def _max_target(em: Emulator, clock: dict[str, Any], old_time: int) -> tuple[int, str]:
    """Two intervals of the clock's shortest subscription, or two years without subscriptions."""
    customers = {c["id"] for c in em.store.all("customer") if c.get("test_clock") == clock["id"]}
    shortest: int | None = None
    for sub in em.store.all("subscription"):
        if sub.get("customer") not in customers or sub.get("status") in ("canceled", "incomplete_expired"):
            continue
        for item in (sub.get("items") or {}).get("data", []):
            recurring = (item.get("price") or {}).get("recurring") or {}
            seconds = _INTERVAL_SECONDS.get(recurring.get("interval", ""), 0) * int(
                recurring.get("interval_count") or 1)
            if seconds and (shortest is None or seconds < shortest):
                shortest = seconds
    if shortest is None:
        return old_time + MAX_AHEAD_NO_SUBSCRIPTIONS, "two years ahead when the clock has no subscriptions"
    return old_time + 2 * shortest, "two intervals of the shortest subscription on this clock"
