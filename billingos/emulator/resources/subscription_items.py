"""Subscription items: list, create, retrieve, update, delete. Each change is a subscription update (same
prorations and events as ``POST /v1/subscriptions/{id}`` with ``items[]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import invalid, missing
from ..params import Params
from ..routing import Request
from ..subscription_changes import ItemChange, recurring_price, tax_rate_ids
from ..subscription_update import UpdateSpec, apply_update, parse_common

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("GET", "/v1/subscription_items", list_)
    r.add("POST", "/v1/subscription_items", create)
    r.add("GET", "/v1/subscription_items/{id}", retrieve)
    r.add("POST", "/v1/subscription_items/{id}", update)
    r.add("DELETE", "/v1/subscription_items/{id}", delete)


def find_item(em: Emulator, si_id: str, param: str = "id") -> tuple[dict[str, Any], dict[str, Any]]:
    for sub in em.store.all("subscription"):
        for item in sub["items"]["data"]:
            if item["id"] == si_id:
                return sub, item
    raise missing("subscription item", si_id, param)


def _live_sub(sub: dict[str, Any]) -> None:
    if sub["status"] in ("canceled", "incomplete_expired", "incomplete"):
        raise invalid(f"The items of a subscription with status {sub['status']} cannot be changed.")


def _item_change(em: Emulator, p: Params, sid: str | None, *, create: bool) -> ItemChange:
    pid = p.str("price", required=create)
    price = recurring_price(em, pid, "price") if pid is not None else None
    qty = p.int("quantity", min=0, max=1_000_000)
    rates = tax_rate_ids(em, p, "tax_rates")
    metadata = p.metadata(None) if p.has("metadata") else None
    return ItemChange(sid, price, qty, False, metadata, rates, "items[0]")


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    sub = em.store.get("subscription", p.str("subscription", required=True), param="subscription")
    return em.store.page(p, list(sub["items"]["data"]), f"/v1/subscription_items?subscription={sub['id']}")


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return find_item(em, req.args["id"])[1]


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    sub = em.store.get("subscription", p.str("subscription", required=True), param="subscription")
    _live_sub(sub)
    spec = UpdateSpec(items=[_item_change(em, p, None, create=True)])
    parse_common(em, p, spec)
    p.done()
    before = {i["id"] for i in sub["items"]["data"]}
    apply_update(em, sub, spec, em.now(sub), req)
    return next(i for i in sub["items"]["data"] if i["id"] not in before)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    sub, item = find_item(em, req.args["id"])
    _live_sub(sub)
    p = req.params
    spec = UpdateSpec(items=[_item_change(em, p, item["id"], create=False)])
    parse_common(em, p, spec)
    p.get("off_session")
    p.done()
    apply_update(em, sub, spec, em.now(sub), req)
    return find_item(em, item["id"])[1]


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    sub, item = find_item(em, req.args["id"])
    _live_sub(sub)
    p = req.params
    spec = UpdateSpec(items=[ItemChange(item["id"], None, None, True, param="items[0]")])
    parse_common(em, p, spec)
    p.get("clear_usage")
    p.done()
    apply_update(em, sub, spec, em.now(sub), req)
    return {"id": item["id"], "object": "subscription_item", "deleted": True}
