"""Prices: create, retrieve, update, list, search. Rating a price lives in ``..rating``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..catalog import render_price
from ..errors import invalid
from ..price_params import MAX_INTERVAL_COUNT, TAX_BEHAVIORS, build, parse_currency
from ..routing import Request
from ..store import matches_range
from . import products

if TYPE_CHECKING:
    from ..app import Emulator

def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/prices", create)
    r.add("GET", "/v1/prices", list_)
    r.add("GET", "/v1/prices/search", search)
    r.add("GET", "/v1/prices/{id}", retrieve)
    r.add("POST", "/v1/prices/{id}", update)


def _render_list(page: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    page["data"] = [render_price(p, expand, "data.") for p in page["data"]]
    return page


def _lookup_holder(em: Emulator, key: str | None, transfer: bool,
                   self_id: str | None) -> dict[str, Any] | None:
    """The other price holding ``key``; Stripe counts inactive holders too."""
    if key is None:
        return None
    holders = (x for x in em.store.all("price") if x.get("lookup_key") == key and x["id"] != self_id)
    holder = next(holders, None)
    if holder is not None and not transfer:
        raise invalid(f"A price (`{holder['id']}`) already uses that lookup key.", "lookup_key")
    return holder


def _release(em: Emulator, holder: dict[str, Any] | None, req: Request) -> None:
    if holder is not None:
        previous = em.update(holder, {"lookup_key": None})
        em.emit("price.updated", render_price(holder, []), previous, request=req)


def product_ref(em: Emulator, pid: Any, param: str = "product") -> dict[str, Any]:
    """A product named by a param (missing: 400 resource_missing)."""
    return em.store.get("product", pid, param=param)


# --- handlers ---------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    new_product = None
    if p.has("product") and p.has("product_data"):
        raise invalid("You may only specify one of these parameters: product, product_data.", "product")
    if p.has("product"):
        pid = product_ref(em, p.str("product", required=True))["id"]
    elif p.has("product_data"):
        new_product = products.build(em, p.sub("product_data"), for_price=True)  # type: ignore[arg-type]
        pid = new_product["id"]
    else:
        raise invalid("You must specify either `product` or `product_data` when creating a price.")
    price = build(em, p, pid)
    price["active"] = p.bool("active", default=True)
    price["nickname"] = p.str("nickname")
    price["lookup_key"] = p.str("lookup_key", max_length=200)
    holder = _lookup_holder(em, price["lookup_key"], p.bool("transfer_lookup_key", default=False), None)
    p.done()
    if new_product is not None:
        products.insert(em, new_product, req)
    _release(em, holder, req)
    em.store.insert(price)
    em.emit("price.created", render_price(price, []), request=req)
    return render_price(price, req.expand)


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return render_price(em.store.get("price", req.args["id"]), req.expand)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    price = em.store.get("price", req.args["id"])
    p = req.params
    changes: dict[str, Any] = {}
    if p.has("active"):
        changes["active"] = p.bool("active")
    if p.has("nickname"):
        changes["nickname"] = p.str("nickname", nullable=True)
    if p.has("metadata"):
        changes["metadata"] = p.metadata(price["metadata"])
    if p.has("tax_behavior"):
        tax = p.str("tax_behavior", choices=TAX_BEHAVIORS)
        if tax != price["tax_behavior"] and price["tax_behavior"] != "unspecified":
            raise invalid("tax_behavior cannot be changed once it is set to `inclusive` or `exclusive`.",
                          "tax_behavior")
        changes["tax_behavior"] = tax
    transfer = p.bool("transfer_lookup_key", default=False)
    holder = None
    if p.has("lookup_key"):
        changes["lookup_key"] = p.str("lookup_key", nullable=True, max_length=200)
        holder = _lookup_holder(em, changes["lookup_key"], transfer, price["id"])
    if changes.get("active") is False and price["active"]:
        product = em.store.find(price["product"])
        if product is not None and product.get("default_price") == price["id"]:
            raise invalid("This price cannot be archived because it is the default price of its product.",
                          "active")
    p.done()
    _release(em, holder, req)
    previous = em.update(price, changes)
    if previous:
        em.emit("price.updated", render_price(price, []), previous, request=req)
    return render_price(price, req.expand)


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    eq = {"active": p.bool("active"), "currency": parse_currency(p, required=False),
          "product": p.str("product"), "type": p.str("type", choices=("one_time", "recurring"))}
    keys = p.list("lookup_keys")
    rec = p.sub("recurring")
    rec_eq: dict[str, Any] = {}
    if rec is not None:
        rec_eq = {"interval": rec.str("interval", choices=MAX_INTERVAL_COUNT),
                  "usage_type": rec.str("usage_type", choices=("licensed", "metered")),
                  "meter": rec.str("meter")}
        rec.done()
    created = p.get("created")
    items = [x for x in em.store.all("price") if all(v is None or x.get(k) == v for k, v in eq.items())]
    if keys is not None:
        items = [x for x in items if x.get("lookup_key") in keys]
    if rec is not None:
        items = [x for x in items if x["recurring"] is not None
                 and all(v is None or x["recurring"].get(k) == v for k, v in rec_eq.items())]
    if created is not None:
        items = [x for x in items if matches_range(x["created"], created, "created")]
    return _render_list(em.store.page(p, items, "/v1/prices"), req.expand)


def search(em: Emulator, req: Request) -> dict[str, Any]:
    page = em.store.search(req.params, em.store.all("price"), "/v1/prices/search")
    return _render_list(page, req.expand)
