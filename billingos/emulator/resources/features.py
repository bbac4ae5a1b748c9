"""Entitlements features, product features and (read-only) active entitlements.

Stripe sends no events for features or product features themselves. A customer's active entitlements
come from their subscriptions (``active``, ``trialing`` and ``past_due``) to products with attached
features; when that set changes (a subscription event, or a feature attached to or detached from a
product they hold) ``entitlements.active_entitlement_summary.updated`` is emitted, as Stripe does.
"""

from __future__ import annotations

import copy
import hashlib
from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid
from ..routing import Request
from ..store import new_id

if TYPE_CHECKING:
    from ..app import Emulator

ENTITLED_STATUSES = ("active", "trialing", "past_due")
SUMMARY_EVENT = "entitlements.active_entitlement_summary.updated"


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/entitlements/features", create_feature)
    r.add("GET", "/v1/entitlements/features", list_features)
    r.add("GET", "/v1/entitlements/features/{id}", retrieve_feature)
    r.add("POST", "/v1/entitlements/features/{id}", update_feature)
    r.add("GET", "/v1/entitlements/active_entitlements", list_active)
    r.add("POST", "/v1/products/{id}/features", attach)
    r.add("GET", "/v1/products/{id}/features", list_attached)
    r.add("GET", "/v1/products/{id}/features/{feature_id}", retrieve_attached)
    r.add("DELETE", "/v1/products/{id}/features/{feature_id}", detach)


# --- entitlements.feature ----------------------------------------------------------------------
def create_feature(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    name = p.str("name", required=True, max_length=80)
    key = p.str("lookup_key", required=True, max_length=80)
    metadata: dict[str, str] = p.metadata({}) or {}
    p.done()
    if any(f["lookup_key"] == key for f in em.store.all("entitlements.feature")):
        raise invalid(f"A feature with lookup_key '{key}' already exists.", "lookup_key",
                      code="resource_already_exists")
    feature = {"id": new_id("feat_test", 32), "object": "entitlements.feature", "active": True,
               "livemode": False, "lookup_key": key, "metadata": metadata, "name": name}
    return em.store.insert(feature)


def retrieve_feature(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("entitlements.feature", req.args["id"], label="feature")


def update_feature(em: Emulator, req: Request) -> dict[str, Any]:
    feature = em.store.get("entitlements.feature", req.args["id"], label="feature")
    p = req.params
    changes: dict[str, Any] = {}
    if p.has("name"):
        changes["name"] = p.str("name", required=True, max_length=80)
    if p.has("active"):
        changes["active"] = p.bool("active")
    if p.has("metadata"):
        changes["metadata"] = p.metadata(feature["metadata"])
    p.done()
    em.update(feature, changes)
    for pf in em.store.all("product_feature"):   # product features embed the feature: keep them current
        if pf["entitlement_feature"]["id"] == feature["id"]:
            pf["entitlement_feature"] = copy.deepcopy(feature)
    return feature


def list_features(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    key = p.str("lookup_key")
    archived = p.bool("archived")
    items = em.store.all("entitlements.feature")
    if key is not None:
        items = [f for f in items if f["lookup_key"] == key]
    if archived is not None:
        items = [f for f in items if f["active"] is not archived]
    return em.store.page(p, items, "/v1/entitlements/features")


# --- product_feature ---------------------------------------------------------------------------
def _attached(em: Emulator, product_id: str) -> list[str]:
    return em.state.product_features.setdefault(product_id, [])


def _product(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("product", req.args["id"])


def attach(em: Emulator, req: Request) -> dict[str, Any]:
    product = _product(em, req)
    p = req.params
    fid = p.str("entitlement_feature", required=True)
    p.done()
    feature = em.store.get("entitlements.feature", fid, param="entitlement_feature", label="feature")
    if not feature["active"]:
        raise invalid(f"The feature `{fid}` is archived and cannot be attached to a product.",
                      "entitlement_feature")
    ids = _attached(em, product["id"])
    if any(em.store.objects[i]["entitlement_feature"]["id"] == fid for i in ids):
        raise invalid(f"The feature `{fid}` is already attached to product `{product['id']}`.",
                      "entitlement_feature", code="resource_already_exists")
    pf: dict[str, Any] = {"id": new_id("prodft", 24), "object": "product_feature",
                          "entitlement_feature": copy.deepcopy(feature), "livemode": False}
    em.store.insert(pf)
    ids.append(pf["id"])
    _refresh_product(em, product["id"], req)
    return pf


def list_attached(em: Emulator, req: Request) -> dict[str, Any]:
    product = _product(em, req)
    items = [em.store.objects[i] for i in _attached(em, product["id"])]
    return em.store.page(req.params, items, f"/v1/products/{product['id']}/features")


def _one(em: Emulator, req: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    product = _product(em, req)
    fid = req.args["feature_id"]
    if fid not in _attached(em, product["id"]):
        raise StripeError(f"No such product feature: '{fid}'", status=404, param="id",
                          code="resource_missing")
    return product, em.store.objects[fid]


def retrieve_attached(em: Emulator, req: Request) -> dict[str, Any]:
    return _one(em, req)[1]


def detach(em: Emulator, req: Request) -> dict[str, Any]:
    product, pf = _one(em, req)
    req.params.done()
    _attached(em, product["id"]).remove(pf["id"])
    em.store.delete(pf["id"])
    _refresh_product(em, product["id"], req)
    return {"id": pf["id"], "object": "product_feature", "deleted": True}


# --- entitlements.active_entitlement ---------------------------------------------------------------
def list_active(em: Emulator, req: Request) -> dict[str, Any]:
    """Grants come from the customer's subscriptions."""
    p = req.params
    customer = p.str("customer", required=True)
    em.store.get("customer", customer, param="customer")
    items = active_entitlements(em, customer)   # oldest first, like the store
    return em.store.page(p, items, "/v1/entitlements/active_entitlements")


def active_entitlements(em: Emulator, customer_id: str) -> list[dict[str, Any]]:
    """The customer's active entitlements: one per feature of any product an entitled subscription holds."""
    seen: dict[str, dict[str, Any]] = {}
    for sub in em.store.all("subscription"):
        if sub.get("customer") != customer_id or sub.get("status") not in ENTITLED_STATUSES:
            continue
        for item in (sub.get("items") or {}).get("data") or []:
            price = item.get("price") or {}
            product = price.get("product") if isinstance(price, dict) else None
            product_id = product.get("id") if isinstance(product, dict) else product
            for pf_id in em.state.product_features.get(str(product_id), []):
                feature = em.store.objects[pf_id]["entitlement_feature"]
                seen.setdefault(feature["id"], feature)
    return [_entitlement(customer_id, f) for f in seen.values()]


def _entitlement(customer_id: str, feature: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(f"{customer_id}:{feature['id']}".encode()).hexdigest()[:24]
    return {"id": f"ent_test_{digest}", "object": "entitlements.active_entitlement", "feature": feature["id"],
            "livemode": False, "lookup_key": feature["lookup_key"]}


def on_event(em: Emulator, event: dict[str, Any]) -> None:
    """``em.hooks.event``: a subscription event may change the customer's entitlements."""
    if event["type"].startswith("customer.subscription."):
        customer = event["data"]["object"].get("customer")
        if isinstance(customer, str):
            _announce(em, customer, None)


def _refresh_product(em: Emulator, product_id: str, req: Request | None) -> None:
    customers = set()
    for sub in em.store.all("subscription"):
        for item in (sub.get("items") or {}).get("data") or []:
            price = item.get("price") or {}
            product = price.get("product") if isinstance(price, dict) else None
            if (product.get("id") if isinstance(product, dict) else product) == product_id:
                customers.add(sub.get("customer"))
    for customer in sorted(c for c in customers if isinstance(c, str)):
        _announce(em, customer, req)


def _announce(em: Emulator, customer_id: str, req: Request | None) -> None:
    """Emit the summary event when the customer's set of features changed since the last one."""
    current = active_entitlements(em, customer_id)
    ids = sorted(e["feature"] for e in current)
    known = em.state.entitlement_summaries
    if known.get(customer_id, []) == ids:
        return
    known[customer_id] = ids
    features = {f["id"]: f for f in em.store.all("entitlements.feature")}
    data = [{**e, "feature": copy.deepcopy(features.get(e["feature"], e["feature"]))} for e in current]
    summary = {"object": "entitlements.active_entitlement_summary", "customer": customer_id, "livemode": False,
               "entitlements": {"object": "list", "data": data, "has_more": False,
                                "url": f"/v1/customer/{customer_id}/entitlements"}}
    em.emit(SUMMARY_EVENT, summary, request=req)
