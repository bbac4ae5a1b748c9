"""Customers: create, retrieve, update, delete, list, search. The template for other resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import invalid
from ..params import Params
from ..routing import Request
from ..store import matches_range, new_id
from .payment_methods import attach_to_new_customer

if TYPE_CHECKING:
    from ..app import Emulator

_ADDRESS = ("city", "country", "line1", "line2", "postal_code", "state")


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/customers", create)
    r.add("GET", "/v1/customers", list_)
    r.add("GET", "/v1/customers/search", search)
    r.add("GET", "/v1/customers/{id}", retrieve)
    r.add("POST", "/v1/customers/{id}", update)
    r.add("DELETE", "/v1/customers/{id}", delete)


def _address(p: Params, key: str) -> dict[str, Any] | None:
    raw = p.dict(key, nullable=True)
    if raw is None or raw == "":
        return None
    sub = Params(raw, key)
    out = {k: sub.str(k, max_length=200) for k in _ADDRESS}
    sub.done()
    return out


def _apply(em: Emulator, p: Params, cust: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in ("email", "name", "description", "phone"):
        if p.has(key):
            value = p.str(key, nullable=True, max_length=512 if key == "email" else 5000)
            if key == "email" and value is not None and ("@" not in value or " " in value):
                raise invalid(f"Invalid email address: {value}", "email", code="email_invalid")
            changes[key] = value
    if p.has("address"):
        changes["address"] = _address(p, "address")
    if p.has("balance"):
        changes["balance"] = p.int("balance")
    if p.has("preferred_locales"):
        changes["preferred_locales"] = [str(x) for x in p.list("preferred_locales") or []]
    if p.has("tax_exempt"):
        changes["tax_exempt"] = p.str("tax_exempt", choices=("none", "exempt", "reverse"))
    if p.has("invoice_settings"):
        sub = p.sub("invoice_settings")
        assert sub is not None
        settings = dict(cust.get("invoice_settings") or {})
        if sub.has("default_payment_method"):
            pm_id = sub.str("default_payment_method", nullable=True)
            if pm_id is not None:
                pm = em.store.get("payment_method", pm_id, param="invoice_settings[default_payment_method]")
                if pm.get("customer") != cust["id"]:
                    raise invalid(f"The payment method '{pm_id}' must be attached to customer {cust['id']} "
                                  "before it can be made the default.", "invoice_settings[default_payment_method]")
            settings["default_payment_method"] = pm_id
        if sub.has("footer"):
            settings["footer"] = sub.str("footer", nullable=True)
        sub.get("custom_fields")
        sub.get("rendering_options")
        sub.done()
        changes["invoice_settings"] = settings
    metadata = p.metadata(cust.get("metadata", {}))
    if metadata is not None:
        changes["metadata"] = metadata
    return changes


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    cust: dict[str, Any] = {
        "id": new_id("cus", 14), "object": "customer",
        "address": None, "balance": 0, "created": 0, "currency": None, "default_source": None,
        "delinquent": False, "description": None, "discount": None, "email": None,
        "invoice_prefix": new_id("x", 7)[2:].upper()[:7], "invoice_settings": {
            "custom_fields": None, "default_payment_method": None, "footer": None,
            "rendering_options": None},
        "livemode": False, "metadata": {}, "name": None, "next_invoice_sequence": 1, "phone": None,
        "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
        "customer_account": None,
    }
    clock = p.str("test_clock")
    if clock is not None:
        em.store.get("test_helpers.test_clock", clock, param="test_clock", label="test clock")
        cust["test_clock"] = clock
    pm_id = p.str("payment_method")
    changes = _apply(em, p, cust)
    p.done()
    cust.update(changes)
    cust["created"] = em.now(cust)
    em.store.insert(cust)
    if pm_id is not None:
        attach_to_new_customer(em, pm_id, cust, req)
    em.emit("customer.created", cust, request=req)
    return cust


def retrieve(em: Emulator, req: Request) -> dict[str, Any]:
    oid = req.args["id"]
    obj = em.store.objects.get(oid)
    if obj is not None and obj["object"] == "customer" and oid in em.store.deleted:
        return {"id": oid, "object": "customer", "deleted": True}
    return em.store.get("customer", oid)


def update(em: Emulator, req: Request) -> dict[str, Any]:
    cust = em.store.get("customer", req.args["id"])
    changes = _apply(em, req.params, cust)
    req.params.done()
    previous = em.update(cust, changes)
    if previous:
        em.emit("customer.updated", cust, previous, request=req)
    return cust


def delete(em: Emulator, req: Request) -> dict[str, Any]:
    cust = em.store.get("customer", req.args["id"])
    req.params.done()
    em.store.delete(cust["id"])
    em.emit("customer.deleted", cust, request=req)
    return {"id": cust["id"], "object": "customer", "deleted": True}


def list_(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    email = p.str("email")
    created = p.get("created")
    clock = p.str("test_clock")
    items = em.store.all("customer")
    if email is not None:
        items = [c for c in items if (c.get("email") or "") == email]  # Stripe: case-sensitive here
    if clock is not None:
        items = [c for c in items if c.get("test_clock") == clock]
    if created is not None:
        items = [c for c in items if matches_range(c["created"], created, "created")]
    return em.store.page(p, items, "/v1/customers")


def search(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.search(req.params, em.store.all("customer"), "/v1/customers/search")
