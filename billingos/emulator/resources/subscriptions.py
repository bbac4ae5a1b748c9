"""Subscriptions: create, retrieve, update, cancel, resume, list, search.

The billing engine behind them lives in ``subscription_create.py``, ``subscription_engine.py`` (lifecycle),
``subscription_changes.py`` and ``subscription_update.py`` (changes, prorations) and ``billing_cycle.py``
(time).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..billing_common import add_interval, next_boundary
from ..discounts import apply_discounts
from ..errors import invalid
from ..routing import Request
from ..store import matches_range
from ..subscription_create import first_invoice, parse_create, precheck_create
from ..subscription_engine import (
    cancel_now,
    collect,
    maybe_trial_will_end,
    period_lines,
    sub_interval,
    sub_invoice,
    with_period,
)
from ..subscription_update import FEEDBACK, apply_update, parse_update, restrict

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/subscriptions", create)
    r.add("GET", "/v1/subscriptions", list_)
    r.add("GET", "/v1/subscriptions/search", search)
    r.add("GET", "/v1/subscriptions/{id}", retrieve)
    r.add("POST", "/v1/subscriptions/{id}", update)
    r.add("DELETE", "/v1/subscriptions/{id}", cancel)
    r.add("POST", "/v1/subscriptions/{id}/resume", resume)


# --- create --------------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    sub, opts = parse_create(em, req)
    precheck_create(em, sub, opts)
    at = opts["at"]
    sub["discounts"] = apply_discounts(
        em, opts["discounts"], at=at, customer=sub["customer"], subscription=sub["id"]
    )
    em.store.insert(sub)
    inv = first_invoice(em, sub, opts, False)
    sub["latest_invoice"] = inv["id"]
    em.emit("customer.subscription.created", sub, request=req)
    collect(em, sub, inv, at, req, behavior=opts["payment_behavior"])
    maybe_trial_will_end(em, sub, at, req)
    return sub


# --- read ----------------------------------------------------------------------------------------
def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("subscription", req.args["id"])


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    customer, price = p.str("customer"), p.str("price")
    status = p.str(
        "status",
        choices=(
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        ),
    )
    clock, created = p.str("test_clock"), p.get("created")
    p.get("collection_method")
    items = em.store.all("subscription")
    if status is None:
        items = [s for s in items if s["status"] not in ("canceled", "incomplete_expired")]
    elif status == "ended":
        items = [s for s in items if s["status"] in ("canceled", "incomplete_expired")]
    elif status != "all":
        items = [s for s in items if s["status"] == status]
    if customer is not None:
        items = [s for s in items if s["customer"] == customer]
    if price is not None:
        items = [s for s in items if any(i["price"]["id"] == price for i in s["items"]["data"])]
    if clock is not None:
        items = [s for s in items if s.get("test_clock") == clock]
    if created is not None:
        items = [s for s in items if matches_range(s["created"], created, "created")]
    return em.store.page(p, items, "/v1/subscriptions")


def search(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.search(req.params, em.store.all("subscription"), "/v1/subscriptions/search")


# --- change --------------------------------------------------------------------------------------
def update(em: Emulator, req: Request) -> dict[str, Any]:
    sub = em.store.get("subscription", req.args["id"])
    restrict(req.params, sub)
    at = em.now(sub)
    spec = parse_update(em, sub, req.params, at)
    req.params.done()
    apply_update(em, sub, spec, at, req)
    return sub


def cancel(em: Emulator, req: Request) -> dict[str, Any]:
    sub = em.store.get("subscription", req.args["id"])
    p = req.params
    invoice_now = bool(p.bool("invoice_now", default=False))
    prorate = bool(p.bool("prorate", default=False))
    details = p.sub("cancellation_details")
    comment = feedback = None
    if details is not None:
        comment = details.str("comment", max_length=5000)
        feedback = details.str("feedback", choices=FEEDBACK)
        details.done()
    p.done()
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid(f"This subscription is already canceled: {sub['id']}.", code="resource_missing")
    at = em.now(sub)
    cancel_now(
        em,
        sub,
        at,
        req,
        reason="cancellation_requested",
        invoice_now=invoice_now,
        prorate=prorate,
        comment=comment,
        feedback=feedback,
    )
    return sub


def resume(em: Emulator, req: Request) -> dict[str, Any]:
    """A paused subscription starts a new period (``billing_cycle_anchor=now``, default) or keeps its
    cycle (``unchanged``, prorated first period) and is invoiced at once."""
    sub = em.store.get("subscription", req.args["id"])
    p = req.params
    anchor = p.str("billing_cycle_anchor", choices=("now", "unchanged"), default="now")
    behavior = p.str(
        "proration_behavior",
        choices=("always_invoice", "create_prorations", "none"),
        default="create_prorations",
    )
    p.int("proration_date", min=0)
    p.done()
    if sub["status"] != "paused":
        raise invalid(f"Only a paused subscription can be resumed; this one is {sub['status']}.")
    at = em.now(sub)
    _resume(em, sub, at, req, anchor == "now", behavior)
    return sub


def _resume(
    em: Emulator, sub: dict[str, Any], at: int, req: Request, anchor_now: bool, behavior: str
) -> None:
    interval, count = sub_interval(sub)
    anchor = at if anchor_now else sub["billing_cycle_anchor"]
    period = (at, next_boundary(anchor, interval, count, at))
    items = with_period(sub["items"]["data"], period)
    inv = sub_invoice(em, sub, at, "subscription_update", period)
    fraction = None
    if not anchor_now:
        full = period[1] - add_interval(period[1], interval, -count)
        fraction = Fraction(period[1] - at, full) if behavior != "none" else Fraction(0)
    period_lines(em, inv, sub["id"], items, period, fraction=fraction)
    prev = em.update(
        sub,
        {
            "status": "active",
            "items": {**sub["items"], "data": items},
            "billing_cycle_anchor": anchor,
            "latest_invoice": inv["id"],
            "pause_collection": None,
        },
    )
    em.emit("customer.subscription.updated", sub, prev, request=req)
    em.emit("customer.subscription.resumed", sub, request=req)
    collect(em, sub, inv, at, req)
