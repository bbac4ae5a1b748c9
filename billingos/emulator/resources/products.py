"""Products: create (with ``default_price_data``), retrieve, update, delete, list, search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..catalog import render_price
from ..errors import StripeError, invalid
from ..params import Params
from ..price_params import build as build_price
from ..routing import Request
from ..store import matches_range, new_id

if TYPE_CHECKING:
    from ..app import Emulator

_DIMENSIONS = ("height", "length", "weight", "width")
_STRINGS = {"description": 40000, "statement_descriptor": 22, "tax_code": 5000, "unit_label": 12, "url": 5000}


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/products", create)
    r.add("GET", "/v1/products", list_)
    r.add("GET", "/v1/products/search", search)
    r.add("GET", "/v1/products/{id}", retrieve)
    r.add("POST", "/v1/products/{id}", update)
    r.add("DELETE", "/v1/products/{id}", delete)


# --- params -----------------------------------------------------------------------------------
def _dimensions(p: Params) -> dict[str, float] | None:
    raw = p.dict("package_dimensions", nullable=True)
    if raw is None or raw == "":
        return None
    sub = Params(raw, "package_dimensions")
    out: dict[str, float] = {}
    for key in _DIMENSIONS:
        value = sub.required(key)
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise invalid(f"Invalid decimal: {value}", f"package_dimensions[{key}]") from None
        if out[key] <= 0:
            raise invalid(f"Invalid package_dimensions[{key}]: must be greater than 0",
                          f"package_dimensions[{key}]")
    sub.done()
    return out


def _images(p: Params) -> list[str]:
    images = p.list("images") or []
    if len(images) > 8:
        raise invalid("You can only specify up to 8 images for a product.", "images")
    if not all(isinstance(i, str) and len(i) <= 2048 for i in images):
        raise invalid("Invalid array: images must be URL strings of at most 2048 characters.", "images")
    return images


def _marketing(p: Params) -> list[dict[str, str]]:
    raw = p.list("marketing_features") or []
    if len(raw) > 15:
        raise invalid("A product can have up to 15 marketing features.", "marketing_features")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise invalid(f"Invalid object: marketing_features[{i}] must be a hash.",
                          f"marketing_features[{i}]")
        sub = Params(item, f"marketing_features[{i}]")
        out.append({"name": sub.str("name", required=True, max_length=80)})
        sub.done()
    return out


def _apply(p: Params, product: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validated changes for the fields create and update share."""
    changes: dict[str, Any] = {}
    if creating or p.has("name"):
        changes["name"] = p.str("name", required=True, max_length=5000)
    if p.has("active"):
        changes["active"] = p.bool("active")
    for key, limit in _STRINGS.items():
        if p.has(key):
            changes[key] = p.str(key, nullable=True, max_length=limit)
    if p.has("shippable"):
        changes["shippable"] = p.bool("shippable")
    if p.has("images"):
        changes["images"] = _images(p)
    if p.has("marketing_features"):
        changes["marketing_features"] = _marketing(p)
    if p.has("package_dimensions"):
        changes["package_dimensions"] = _dimensions(p)
    if p.has("metadata"):
        changes["metadata"] = p.metadata(product.get("metadata") or {})
    p.get("tax_details")   # accepted; Stripe Tax is not emulated
    return changes


# --- building ----------------------------------------------------------------------------------
def build(em: Emulator, p: Params, *, for_price: bool = False) -> dict[str, Any]:
    """A validated, unsaved product. ``for_price`` is ``product_data`` on price create (fewer params)."""
    oid = p.str("id", max_length=255)
    if oid is not None and em.store.objects.get(oid) is not None:
        raise StripeError("Product already exists.", param="id", code="resource_already_exists")
    product: dict[str, Any] = {
        "id": oid or new_id("prod", 14), "object": "product", "active": True, "created": em.now(),
        "default_price": None, "description": None, "images": [], "livemode": False, "marketing_features": [],
        "metadata": {}, "name": "", "package_dimensions": None, "shippable": None,
        "statement_descriptor": None,
        "tax_code": None, "tax_details": None, "type": "service", "unit_label": None, "updated": em.now(),
        "url": None,
    }
    if for_price:
        changes = _apply_limited(p, product)
    else:
        changes = _apply(p, product, creating=True)
        product["type"] = p.str("type", choices=("good", "service"), default="service")
    product.update(changes)
    if for_price:
        p.done()
    return product


def _apply_limited(p: Params, product: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {"name": p.str("name", required=True, max_length=5000)}
    if p.has("active"):
        changes["active"] = p.bool("active")
    for key in ("statement_descriptor", "tax_code", "unit_label"):
        if p.has(key):
            changes[key] = p.str(key, max_length=_STRINGS[key])
    changes["metadata"] = p.metadata({}) or {}
    p.get("tax_details")
    return changes


def insert(em: Emulator, product: dict[str, Any], req: Request) -> None:
    em.store.insert(product)
    em.emit("product.created", product, request=req)


# --- handlers ---------------------------------------------------------------------------------
def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    product = build(em, p)
    price = None
    sub = p.sub("default_price_data")
    if sub is not None:
        price = build_price(em, sub, product["id"], restricted=True)
        sub.done()
    p.done()
    if price is not None:
        product["default_price"] = price["id"]
    insert(em, product, req)
    if price is not None:
        em.store.insert(price)
        em.emit("price.created", render_price(price, []), request=req)
    return product


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("product", req.args["id"])   # a deleted product is gone: 404


def update(em: Emulator, req: Request) -> dict[str, Any]:
    product = em.store.get("product", req.args["id"])
    p = req.params
    changes = _apply(p, product, creating=False)
    if p.has("default_price"):
        changes["default_price"] = _default_price(em, p, product)
    p.done()
    previous = em.update(product, changes)
    if previous:
        previous["updated"] = product["updated"]
        product["updated"] = em.now()
        em.emit("product.updated", product, previous, request=req)
    return product


def _default_price(em: Emulator, p: Params, product: dict[str, Any]) -> str | None:
    pid = p.str("default_price", nullable=True)
    if pid is None:
        return None
    price = em.store.get("price", pid, param="default_price")
    if price["product"] != product["id"]:
        raise invalid(f"The price `{pid}` does not belong to product `{product['id']}`; a product's default "
                      "price must be one of its own prices.", "default_price")
    if not price["active"]:
        raise invalid(f"The price `{pid}` is archived and cannot be the default price.", "default_price")
    return pid


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    product = em.store.get("product", req.args["id"])
    req.params.done()
    if any(x["product"] == product["id"] for x in em.store.all("price")):
        raise invalid("This product cannot be deleted because it has one or more user-created prices.")
    em.store.delete(product["id"])
    em.emit("product.deleted", product, request=req)
    return {"id": product["id"], "object": "product", "deleted": True}


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    eq = {"active": p.bool("active"), "shippable": p.bool("shippable"), "url": p.str("url"),
          "type": p.str("type", choices=("good", "service"))}
    ids = p.list("ids")
    created = p.get("created")
    items = [x for x in em.store.all("product") if all(v is None or x.get(k) == v for k, v in eq.items())]
    if ids is not None:
        items = [x for x in items if x["id"] in ids]
    if created is not None:
        items = [x for x in items if matches_range(x["created"], created, "created")]
    return em.store.page(p, items, "/v1/products")


def search(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.search(req.params, em.store.all("product"), "/v1/products/search")
