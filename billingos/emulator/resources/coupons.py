"""Coupons and promotion codes: create, retrieve, update, delete, list. Redeeming them: ``..discounts``."""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING, Any

from ..billing_common import currency_param, decimal_param
from ..discounts import refresh_coupon
from ..errors import StripeError, invalid
from ..params import Params
from ..routing import Request
from ..store import matches_range, new_id

if TYPE_CHECKING:
    from ..app import Emulator


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/coupons", create_coupon)
    r.add("GET", "/v1/coupons", list_coupons)
    r.add("GET", "/v1/coupons/{id}", retrieve_coupon)
    r.add("POST", "/v1/coupons/{id}", update_coupon)
    r.add("DELETE", "/v1/coupons/{id}", delete_coupon)
    r.add("POST", "/v1/promotion_codes", create_promo)
    r.add("GET", "/v1/promotion_codes", list_promos)
    r.add("GET", "/v1/promotion_codes/{id}", retrieve_promo)
    r.add("POST", "/v1/promotion_codes/{id}", update_promo)


# --- coupons -------------------------------------------------------------------------------------
def _coupon_editable(p: Params, coupon: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if p.has("name"):
        changes["name"] = p.str("name", nullable=True, max_length=40)
    metadata = p.metadata(coupon.get("metadata", {}))
    if metadata is not None:
        changes["metadata"] = metadata
    return changes


def create_coupon(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    cid = p.str("id", max_length=200)
    percent_off = decimal_param(p, "percent_off", low=0, high=100)
    amount_off = p.int("amount_off", min=1, max=99_999_999)
    currency = currency_param(p, "currency")
    if (percent_off is None) == (amount_off is None):
        raise invalid("You must specify exactly one of percent_off or amount_off.", "percent_off")
    if amount_off is not None and currency is None:
        raise StripeError("Missing required param: currency.", param="currency", code="parameter_missing")
    duration = p.str("duration", choices=("forever", "once", "repeating"), default="once")
    months = p.int("duration_in_months", min=1, max=1200)
    if duration == "repeating" and months is None:
        raise StripeError(
            "Missing required param: duration_in_months.",
            param="duration_in_months",
            code="parameter_missing",
        )
    if duration != "repeating" and months is not None:
        raise invalid(
            "duration_in_months can only be set when duration is 'repeating'.", "duration_in_months"
        )
    max_redemptions = p.int("max_redemptions", min=1)
    redeem_by = p.int("redeem_by", min=0)
    applies = p.sub("applies_to")
    products = None
    if applies is not None:
        products = [str(x) for x in applies.list("products") or []]
        applies.done()
    coupon: dict[str, Any] = {
        "id": cid or "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8)),
        "object": "coupon",
        "amount_off": amount_off,
        "applies_to": {"products": products} if products else None,
        "created": em.now(),
        "currency": currency if amount_off is not None else None,
        "duration": duration,
        "duration_in_months": months,
        "livemode": False,
        "max_redemptions": max_redemptions,
        "metadata": {},
        "name": None,
        "percent_off": percent_off,
        "redeem_by": redeem_by,
        "times_redeemed": 0,
        "valid": True,
    }
    changes = _coupon_editable(p, coupon)
    p.done()
    if redeem_by is not None and redeem_by <= em.now():
        raise invalid("redeem_by must be in the future.", "redeem_by")
    if cid is not None and em.store.find(cid) is not None:
        raise invalid(f"Coupon already exists: {cid}", "id", code="resource_already_exists")
    coupon.update(changes)
    em.store.insert(coupon)
    em.emit("coupon.created", coupon, request=req)
    return coupon


def retrieve_coupon(em: Emulator, req: Request) -> dict[str, Any]:
    return refresh_coupon(em, em.store.get("coupon", req.args["id"]))


def update_coupon(em: Emulator, req: Request) -> dict[str, Any]:
    coupon = em.store.get("coupon", req.args["id"])
    changes = _coupon_editable(req.params, coupon)
    req.params.done()
    previous = em.update(coupon, changes)
    if previous:
        em.emit("coupon.updated", coupon, previous, request=req)
    return refresh_coupon(em, coupon)


def delete_coupon(em: Emulator, req: Request) -> dict[str, Any]:
    coupon = em.store.get("coupon", req.args["id"])
    req.params.done()
    em.store.delete(coupon["id"])
    coupon["valid"] = False
    em.emit("coupon.deleted", coupon, request=req)
    return {"id": coupon["id"], "object": "coupon", "deleted": True}


def list_coupons(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    created = p.get("created")
    items = [refresh_coupon(em, c) for c in em.store.all("coupon")]
    if created is not None:
        items = [c for c in items if matches_range(c["created"], created, "created")]
    return em.store.page(p, items, "/v1/coupons")


# --- promotion codes -----------------------------------------------------------------------------
def _restrictions(p: Params, existing: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(
        existing
        or {
            "first_time_transaction": False,
            "minimum_amount": None,
            "minimum_amount_currency": None,
            "currency_options": {},
        }
    )
    sub = p.sub("restrictions")
    if sub is None:
        return out
    if sub.has("first_time_transaction"):
        out["first_time_transaction"] = bool(sub.bool("first_time_transaction"))
    if sub.has("minimum_amount"):
        out["minimum_amount"] = sub.int("minimum_amount", min=0)
    if sub.has("minimum_amount_currency"):
        out["minimum_amount_currency"] = currency_param(sub, "minimum_amount_currency")
    sub.get("currency_options")
    sub.done()
    if out["minimum_amount"] is not None and out["minimum_amount_currency"] is None:
        raise StripeError(
            "Missing required param: restrictions[minimum_amount_currency].",
            param="restrictions[minimum_amount_currency]",
            code="parameter_missing",
        )
    return out


def create_promo(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    promotion = p.sub("promotion", required=True)
    assert promotion is not None
    promotion.str("type", required=True, choices=("coupon",))
    coupon_id = promotion.str("coupon", required=True)
    promotion.done()
    coupon = em.store.get("coupon", coupon_id, param="promotion[coupon]")
    code = p.str("code", max_length=500)
    if code is not None and not code.replace("-", "").replace("_", "").isalnum():
        raise invalid("Promotion codes may only contain letters, digits, '-' and '_'.", "code")
    customer = p.str("customer")
    if customer is not None:
        em.store.get("customer", customer, param="customer")
    promo: dict[str, Any] = {
        "id": new_id("promo", 24),
        "object": "promotion_code",
        "active": p.bool("active", default=True),
        "code": code or "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8)),
        "created": em.now(),
        "customer": customer,
        "customer_account": None,
        "expires_at": p.int("expires_at", min=0),
        "livemode": False,
        "max_redemptions": p.int("max_redemptions", min=1),
        "metadata": p.metadata({}) or {},
        "promotion": {"coupon": coupon["id"], "type": "coupon"},
        "restrictions": _restrictions(p, None),
        "times_redeemed": 0,
    }
    p.done()
    clash = [
        x
        for x in em.store.all("promotion_code")
        if x["active"] and x["code"].lower() == promo["code"].lower()
    ]
    if clash:
        raise invalid(
            f"An active promotion code with code: {promo['code']} already exists.",
            "code",
            code="resource_already_exists",
        )
    em.store.insert(promo)
    em.emit("promotion_code.created", promo, request=req)
    return promo


def retrieve_promo(em: Emulator, req: Request) -> dict[str, Any]:
    return em.store.get("promotion_code", req.args["id"], label="promotion code")


def update_promo(em: Emulator, req: Request) -> dict[str, Any]:
    promo = em.store.get("promotion_code", req.args["id"], label="promotion code")
    p = req.params
    changes: dict[str, Any] = {}
    if p.has("active"):
        changes["active"] = p.bool("active")
    if p.has("restrictions"):
        changes["restrictions"] = _restrictions(p, promo["restrictions"])
    metadata = p.metadata(promo.get("metadata", {}))
    if metadata is not None:
        changes["metadata"] = metadata
    p.done()
    previous = em.update(promo, changes)
    if previous:
        em.emit("promotion_code.updated", promo, previous, request=req)
    return promo


def list_promos(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    active, code = p.bool("active"), p.str("code")
    coupon, customer = p.str("coupon"), p.str("customer")
    created = p.get("created")
    items = em.store.all("promotion_code")
    if active is not None:
        items = [x for x in items if x["active"] == active]
    if code is not None:
        items = [x for x in items if x["code"].lower() == code.lower()]
    if coupon is not None:
        items = [x for x in items if x["promotion"]["coupon"] == coupon]
    if customer is not None:
        items = [x for x in items if x["customer"] == customer]
    if created is not None:
        items = [x for x in items if matches_range(x["created"], created, "created")]
    return em.store.page(p, items, "/v1/promotion_codes")
