"""Billing Portal: configurations (create, retrieve, update, list) and sessions (create).

A session's ``url`` opens the stand-in portal (``hosted/portal.py``), which does what the
configuration's ``features`` allow, through the API. ``flow_data`` deep-links into one task
(``subscription_cancel`` with an optional coupon retention offer, ``subscription_update``,
``subscription_update_confirm``, ``payment_method_update``) and ``after_completion`` says where to go
after it. Stripe requires a default configuration saved in its Dashboard; the emulator has no Dashboard,
so the first session made without one creates it (``billing_portal.configuration.created``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import invalid
from ..params import Params
from ..routing import Request
from ..store import new_id
from .billing_portal_flows import parse_flow
from .checkout_sessions import url_param

if TYPE_CHECKING:
    from ..app import Emulator

UPDATES = ("address", "email", "name", "phone", "shipping", "tax_id")
PRORATIONS = ("always_invoice", "create_prorations", "none")
CANCEL_REASONS = ("customer_service", "low_quality", "missing_features", "other", "switched_service",
                  "too_complex", "too_expensive", "unused")
SESSION_SECONDS = 3600          # how long a session's page works, in emulator time


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/billing_portal/configurations", create_configuration)
    r.add("GET", "/v1/billing_portal/configurations", list_configurations)
    r.add("GET", "/v1/billing_portal/configurations/{id}", retrieve_configuration)
    r.add("POST", "/v1/billing_portal/configurations/{id}", update_configuration)
    r.add("POST", "/v1/billing_portal/sessions", create_session)


# --- configurations ------------------------------------------------------------------------------
def _default_features() -> dict[str, Any]:
    return {
        "customer_update": {"allowed_updates": [], "enabled": False},
        "invoice_history": {"enabled": False},
        "payment_method_update": {"enabled": False, "payment_method_configuration": None},
        "subscription_cancel": {"cancellation_reason": {"enabled": False, "options": []}, "enabled": False,
                                "mode": "at_period_end", "proration_behavior": "none"},
        "subscription_pause": {"enabled": False},
        "subscription_update": {"billing_cycle_anchor": None, "default_allowed_updates": [], "enabled": False,
                                "products": [], "proration_behavior": "none",
                                "schedule_at_period_end": {"conditions": []}, "trial_update_behavior": "end_trial"},
    }


def _features(em: Emulator, p: Params, current: dict[str, Any]) -> dict[str, Any]:
    f = p.sub("features")
    out = {k: dict(v) for k, v in current.items()}
    if f is None:
        return out
    cu = f.sub("customer_update")
    if cu is not None:
        updates = cu.list("allowed_updates")
        for i, u in enumerate(updates or []):
            if u not in UPDATES:
                raise invalid(f"Invalid allowed_updates: must be one of {', '.join(UPDATES)}",
                              f"features[customer_update][allowed_updates][{i}]")
        out["customer_update"] = {"allowed_updates": list(updates if updates is not None else
                                                          out["customer_update"]["allowed_updates"]),
                                  "enabled": _flag(cu, out["customer_update"])}
        cu.done()
    for key in ("invoice_history", "subscription_pause"):
        sub = f.sub(key)
        if sub is not None:
            out[key] = {**out[key], "enabled": _flag(sub, out[key])}
            sub.done()
    pmu = f.sub("payment_method_update")
    if pmu is not None:
        cur = out["payment_method_update"]
        out["payment_method_update"] = {**cur, "enabled": _flag(pmu, cur)}
        pmu.str("payment_method_configuration", nullable=True)
        pmu.done()
    sc = f.sub("subscription_cancel")
    if sc is not None:
        out["subscription_cancel"] = _cancel_feature(sc, out["subscription_cancel"])
    su = f.sub("subscription_update")
    if su is not None:
        out["subscription_update"] = _update_feature(em, su, out["subscription_update"])
    f.done()
    return out


def _flag(p: Params, current: dict[str, Any]) -> bool:
    value = p.bool("enabled")
    return bool(current.get("enabled")) if value is None else value


def _cancel_feature(sc: Params, cur: dict[str, Any]) -> dict[str, Any]:
    out = {**cur, "enabled": _flag(sc, cur)}
    out["mode"] = sc.str("mode", choices=("at_period_end", "immediately"), default=cur["mode"])
    out["proration_behavior"] = sc.str("proration_behavior", choices=PRORATIONS, default=cur["proration_behavior"])
    reason = sc.sub("cancellation_reason")
    if reason is not None:
        options = reason.list("options")
        for i, o in enumerate(options or []):
            if o not in CANCEL_REASONS:
                raise invalid(f"Invalid option: must be one of {', '.join(CANCEL_REASONS)}",
                              f"features[subscription_cancel][cancellation_reason][options][{i}]")
        enabled = reason.bool("enabled", default=True)
        reason.done()
        out["cancellation_reason"] = {"enabled": enabled, "options": list(options or [])}
    sc.done()
    return out


def _update_feature(em: Emulator, su: Params, cur: dict[str, Any]) -> dict[str, Any]:
    out = {**cur, "enabled": _flag(su, cur)}
    allowed = su.list("default_allowed_updates")
    for i, a in enumerate(allowed or []):
        if a not in ("price", "promotion_code", "quantity"):
            raise invalid("Invalid default_allowed_updates: must be one of price, promotion_code, quantity",
                          f"features[subscription_update][default_allowed_updates][{i}]")
    if allowed is not None:
        out["default_allowed_updates"] = list(allowed)
    out["proration_behavior"] = su.str("proration_behavior", choices=PRORATIONS, default=cur["proration_behavior"])
    products = su.hashes("products")
    if products is not None:
        out["products"] = []
        for e in products:
            prod = em.store.get("product", e.str("product", required=True), param=f"{e.prefix}[product]")
            prices = e.list("prices", required=True)
            for i, pid in enumerate(prices):
                price = em.store.get("price", pid, param=f"{e.prefix}[prices][{i}]")
                if price["product"] != prod["id"] or price.get("type") != "recurring":
                    raise invalid(f"Price {pid} must be a recurring price of product {prod['id']}.",
                                  f"{e.prefix}[prices][{i}]")
            e.get("adjustable_quantity")
            e.done()
            out["products"].append({"adjustable_quantity": {"enabled": "quantity" in out["default_allowed_updates"],
                                                            "maximum": None, "minimum": 1},
                                    "prices": list(prices), "product": prod["id"]})
    su.get("schedule_at_period_end")
    su.str("billing_cycle_anchor", choices=("now", "unchanged"))
    su.str("trial_update_behavior", choices=("continue_trial", "end_trial"))
    su.done()
    if out["enabled"] and not out["products"]:
        raise invalid("products is required when subscription_update is enabled.",
                      "features[subscription_update][products]")
    return out


def _business_profile(p: Params, cur: dict[str, Any]) -> dict[str, Any]:
    bp = p.sub("business_profile")
    if bp is None:
        return cur
    out = dict(cur)
    if bp.has("headline"):
        out["headline"] = bp.str("headline", nullable=True, max_length=60)
    for key in ("privacy_policy_url", "terms_of_service_url"):
        if bp.has(key):
            out[key] = url_param(bp, key) if bp.get(key) != "" else None
    bp.done()
    return out


def new_configuration(em: Emulator, *, is_default: bool = False) -> dict[str, Any]:
    at = em.now()
    return {"id": new_id("bpc", 24), "object": "billing_portal.configuration", "active": True, "application": None,
            "business_profile": {"headline": None, "privacy_policy_url": None, "terms_of_service_url": None},
            "created": at, "default_return_url": None, "features": _default_features(), "is_default": is_default,
            "livemode": False, "login_page": {"enabled": False, "url": None}, "metadata": {}, "name": None,
            "updated": at}


def _apply_configuration(em: Emulator, p: Params, conf: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {"business_profile": _business_profile(p, conf["business_profile"]),
                               "features": _features(em, p, conf["features"])}
    if p.has("default_return_url"):
        changes["default_return_url"] = url_param(p, "default_return_url") if p.get("default_return_url") else None
    if p.has("name"):
        changes["name"] = p.str("name", nullable=True, max_length=256)
    if p.has("metadata"):
        changes["metadata"] = p.metadata(conf["metadata"])
    login = p.sub("login_page")
    if login is not None:
        if login.bool("enabled", default=False):
            raise invalid("login_page is not implemented by the billingos emulator (its portal cannot email "
                          "login links); create portal sessions from your app instead.", "login_page[enabled]")
        login.done()
    if p.has("active"):
        changes["active"] = p.bool("active")
    return changes


def create_configuration(em: Emulator, req: Request) -> dict[str, Any]:
    conf = new_configuration(em)
    p = req.params
    if not p.has("features"):
        p.required("features")
    changes = _apply_configuration(em, p, conf)
    p.done()
    conf.update(changes)
    em.store.insert(conf)
    em.emit("billing_portal.configuration.created", conf, request=req)
    return conf


def retrieve_configuration(em: Emulator, req: Request) -> dict[str, Any]:
    req.params.done()
    return em.store.get("billing_portal.configuration", req.args["id"], label="configuration")


def update_configuration(em: Emulator, req: Request) -> dict[str, Any]:
    conf = em.store.get("billing_portal.configuration", req.args["id"], label="configuration")
    p = req.params
    changes = _apply_configuration(em, p, conf)
    p.done()
    if changes.get("active") is False and conf["is_default"]:
        raise invalid("The default configuration cannot be deactivated.", "active")
    previous = em.update(conf, changes)
    if previous:
        conf["updated"] = em.now()
        em.emit("billing_portal.configuration.updated", conf, previous, request=req)
    return conf


def list_configurations(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    active, default = p.bool("active"), p.bool("is_default")
    items = em.store.all("billing_portal.configuration")
    if active is not None:
        items = [c for c in items if c["active"] == active]
    if default is not None:
        items = [c for c in items if c["is_default"] == default]
    return em.store.page(p, items, "/v1/billing_portal/configurations")


def default_configuration(em: Emulator, req: Request | None) -> dict[str, Any]:
    """The default configuration, created on first use with what a small SaaS portal offers."""
    for conf in em.store.all("billing_portal.configuration"):
        if conf["is_default"]:
            return conf
    conf = new_configuration(em, is_default=True)
    f = conf["features"]
    f["customer_update"] = {"allowed_updates": ["email", "name", "address"], "enabled": True}
    f["invoice_history"] = {"enabled": True}
    f["payment_method_update"] = {"enabled": True, "payment_method_configuration": None}
    f["subscription_cancel"] = {"cancellation_reason": {"enabled": True, "options": list(CANCEL_REASONS)},
                                "enabled": True, "mode": "at_period_end", "proration_behavior": "none"}
    em.store.insert(conf)
    em.emit("billing_portal.configuration.created", conf, request=req)
    return conf


# --- sessions ------------------------------------------------------------------------------------
def create_session(em: Emulator, req: Request) -> dict[str, Any]:

    p = req.params
    cust = em.store.get("customer", p.str("customer", required=True), param="customer")
    conf_id = p.str("configuration")
    conf = em.store.get("billing_portal.configuration", conf_id, param="configuration", label="configuration") \
        if conf_id else None
    if conf is not None and not conf["active"]:
        raise invalid(f"The configuration {conf['id']} is not active.", "configuration")
    return_url = url_param(p, "return_url")
    locale = p.str("locale")
    if p.str("on_behalf_of") is not None:
        raise invalid("on_behalf_of applies to Connect, which the billingos emulator does not implement.",
                      "on_behalf_of")
    conf = conf or default_configuration(em, req)
    flow = parse_flow(em, p, cust, conf)
    p.get("after_expiration")
    p.done()
    oid = new_id("bps", 24)
    session = {"id": oid, "object": "billing_portal.session", "configuration": conf["id"],
               "created": em.now(cust), "customer": cust["id"], "customer_account": None, "flow": flow,
               "livemode": False, "locale": locale, "on_behalf_of": None,
               "return_url": return_url or conf["default_return_url"],
               "url": em.hosted.url(f"/billing_portal/{oid}")}
    em.store.insert(session)
    em.emit("billing_portal.session.created", session, request=req)
    return session
