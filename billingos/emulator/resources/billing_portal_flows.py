"""``flow_data`` of a billing portal session: validated here, shaped as the session's ``flow``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid
from ..params import Params
from .checkout_sessions import url_param

if TYPE_CHECKING:
    from ..app import Emulator

FLOW_TYPES = ("payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm")
LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")


def parse_flow(em: Emulator, p: Params, cust: dict[str, Any], conf: dict[str, Any]) -> dict[str, Any] | None:
    fd = p.sub("flow_data")
    if fd is None:
        return None
    kind = fd.str("type", required=True)
    if kind not in FLOW_TYPES:
        raise invalid(f"flow_data[type] {kind!r} is not supported by the billingos emulator; it supports "
                      f"{', '.join(FLOW_TYPES)}.", "flow_data[type]")
    flow: dict[str, Any] = {"after_completion": _after(fd), "customer_update": None, "subscription_cancel": None,
                            "subscription_pause": None, "subscription_update": None,
                            "subscription_update_confirm": None, "type": kind}
    features = conf["features"]
    if kind == "subscription_cancel":
        sc = _sub_params(fd, "subscription_cancel")
        sub = _subscription(em, sc, cust)
        if not features["subscription_cancel"]["enabled"]:
            raise invalid("The subscription_cancel flow needs features[subscription_cancel][enabled] on the "
                          "portal configuration.", "flow_data[type]")
        flow["subscription_cancel"] = {"retention": _retention(em, sc), "subscription": sub["id"]}
        sc.done()
    elif kind == "subscription_update":
        su = _sub_params(fd, "subscription_update")
        sub = _subscription(em, su, cust)
        su.done()
        if not features["subscription_update"]["enabled"]:
            raise invalid("The subscription_update flow needs features[subscription_update][enabled] on the "
                          "portal configuration.", "flow_data[type]")
        flow["subscription_update"] = {"subscription": sub["id"]}
    elif kind == "subscription_update_confirm":
        uc = _sub_params(fd, "subscription_update_confirm")
        sub = _subscription(em, uc, cust)
        flow["subscription_update_confirm"] = {"discounts": _discounts(em, uc), "items": _items(em, uc, sub),
                                               "subscription": sub["id"]}
        uc.done()
    for other in ("subscription_cancel", "subscription_update", "subscription_update_confirm", "subscription_pause"):
        if other != kind and fd.has(other):
            raise invalid(f"flow_data[{other}] can only be set when flow_data[type] is {other}.",
                          f"flow_data[{other}]")
    fd.done()
    return flow


def _sub_params(fd: Params, key: str) -> Params:
    sub = fd.sub(key)
    if sub is None:
        raise StripeError(f"Missing required param: flow_data[{key}].", param=f"flow_data[{key}]",
                          code="parameter_missing")
    return sub


def _subscription(em: Emulator, p: Params, cust: dict[str, Any]) -> dict[str, Any]:
    sub = em.store.get("subscription", p.str("subscription", required=True), param=p._name("subscription"))
    if sub["customer"] != cust["id"]:
        raise invalid(f"Subscription {sub['id']} does not belong to customer {cust['id']}.", p._name("subscription"))
    if sub["status"] not in LIVE:
        raise invalid(f"Subscription {sub['id']} has a status of {sub['status']} and cannot be changed in the "
                      "portal.", p._name("subscription"))
    return sub


def _after(fd: Params) -> dict[str, Any]:
    ac = fd.sub("after_completion")
    out: dict[str, Any] = {"hosted_confirmation": None, "redirect": None, "type": "portal_homepage"}
    if ac is None:
        return out
    out["type"] = ac.str("type", required=True, choices=("hosted_confirmation", "portal_homepage", "redirect"))
    hc, rd = ac.sub("hosted_confirmation"), ac.sub("redirect")
    if out["type"] == "hosted_confirmation":
        out["hosted_confirmation"] = {"custom_message": hc.str("custom_message", max_length=500) if hc else None}
    if out["type"] == "redirect":
        if rd is None:
            raise StripeError("Missing required param: flow_data[after_completion][redirect].",
                              param="flow_data[after_completion][redirect]", code="parameter_missing")
        out["redirect"] = {"return_url": url_param(rd, "return_url", required=True)}
    for sub, key in ((hc, "hosted_confirmation"), (rd, "redirect")):
        if sub is not None:
            if out["type"] != key:
                raise invalid(f"flow_data[after_completion][{key}] needs type {key}.",
                              f"flow_data[after_completion][{key}]")
            sub.done()
    ac.done()
    return out


def _retention(em: Emulator, sc: Params) -> dict[str, Any] | None:
    ret = sc.sub("retention")
    if ret is None:
        return None
    ret.str("type", required=True, choices=("coupon_offer",))
    offer = ret.sub("coupon_offer", required=True)
    assert offer is not None
    coupon = em.store.get("coupon", offer.str("coupon", required=True), param=offer._name("coupon"))
    offer.done()
    ret.done()
    return {"coupon_offer": {"coupon": coupon["id"]}, "type": "coupon_offer"}


def _discounts(em: Emulator, uc: Params) -> list[dict[str, Any]] | None:
    entries = uc.hashes("discounts")
    if entries is None:
        return None
    out = []
    for e in entries:
        coupon, promo = e.str("coupon"), e.str("promotion_code")
        e.done()
        if coupon is not None:
            em.store.get("coupon", coupon, param=e._name("coupon"))
        if promo is not None:
            em.store.get("promotion_code", promo, param=e._name("promotion_code"), label="promotion code")
        out.append({"coupon": coupon, "promotion_code": promo})
    return out


def _items(em: Emulator, uc: Params, sub: dict[str, Any]) -> list[dict[str, Any]]:
    entries = uc.hashes("items")
    if not entries:
        raise StripeError("Missing required param: flow_data[subscription_update_confirm][items].",
                          param="flow_data[subscription_update_confirm][items]", code="parameter_missing")
    own = {i["id"] for i in sub["items"]["data"]}
    out = []
    for e in entries:
        item_id = e.str("id", required=True)
        if item_id not in own:
            raise invalid(f"Subscription item {item_id} is not an item of {sub['id']}.", e._name("id"))
        price = e.str("price")
        if price is not None:
            em.store.get("price", price, param=e._name("price"))
        qty = e.int("quantity", min=1)
        e.done()
        out.append({"id": item_id, "price": price, "quantity": qty})
    return out
