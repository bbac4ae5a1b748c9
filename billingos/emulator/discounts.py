"""Discounts: a ``discounts[]`` parameter validated against coupons and promotion codes
(``resolve_discounts``), then redeemed into the ``discount`` objects that subscriptions and invoices carry
(``apply_discounts``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .billing_common import add_interval
from .errors import invalid, missing
from .params import Params
from .store import new_id

if TYPE_CHECKING:
    from .app import Emulator


def refresh_coupon(em: Emulator, coupon: dict[str, Any]) -> dict[str, Any]:
    coupon["valid"] = coupon_valid(em, coupon)
    return coupon


def coupon_valid(em: Emulator, coupon: dict[str, Any], at: int | None = None) -> bool:
    at = em.now() if at is None else at
    if coupon["id"] in em.store.deleted:
        return False
    if coupon.get("redeem_by") is not None and at > coupon["redeem_by"]:
        return False
    limit = coupon.get("max_redemptions")
    return not (limit is not None and coupon["times_redeemed"] >= limit)


def promo_active(em: Emulator, promo: dict[str, Any], at: int) -> bool:
    if not promo["active"]:
        return False
    if promo.get("expires_at") is not None and at > promo["expires_at"]:
        return False
    limit = promo.get("max_redemptions")
    return not (limit is not None and promo["times_redeemed"] >= limit)


def resolve_discounts(
    em: Emulator, p: Params, key: str, customer_id: str, at: int
) -> list[dict[str, Any]] | None:
    """Validate ``discounts[]`` (each ``{coupon}``, ``{promotion_code}`` or ``{discount}``). None if unset."""
    raw = p.list(key)
    if raw is None:
        return None
    if p.get(key) == "":
        return []
    specs: list[dict[str, Any]] = []
    for i, entry in enumerate(raw):
        sub = Params(entry if isinstance(entry, dict) else {}, f"{key}[{i}]")
        if not isinstance(entry, dict):
            raise invalid(f"Invalid object: {key}[{i}] must be a hash.", f"{key}[{i}]")
        coupon_id, promo_id, disc_id = sub.str("coupon"), sub.str("promotion_code"), sub.str("discount")
        sub.done()
        if sum(x is not None for x in (coupon_id, promo_id, disc_id)) != 1:
            raise invalid(
                f"{key}[{i}] must have exactly one of coupon, promotion_code or discount.", f"{key}[{i}]"
            )
        if disc_id is not None:
            specs.append({"discount": em.store.get("discount", disc_id, param=f"{key}[{i}][discount]")})
            continue
        promo = None
        if promo_id is not None:
            promo = em.store.get(
                "promotion_code", promo_id, param=f"{key}[{i}][promotion_code]", label="promotion code"
            )
            if not promo_active(em, promo, at) or (promo["customer"] not in (None, customer_id)):
                raise invalid(
                    f"This promotion code cannot be redeemed: {promo['code']}.", f"{key}[{i}][promotion_code]"
                )
            coupon_id = promo["promotion"]["coupon"]
        coupon = em.store.objects.get(coupon_id) if isinstance(coupon_id, str) else None
        if coupon is None or coupon["object"] != "coupon" or coupon_id in em.store.deleted:
            raise missing("coupon", str(coupon_id), f"{key}[{i}][coupon]")
        if not coupon_valid(em, coupon, at):
            raise invalid(
                f"Coupon {coupon['id']} is no longer valid: it has expired or reached its max_redemptions.",
                f"{key}[{i}][coupon]",
                code="coupon_expired",
            )
        specs.append({"coupon": coupon, "promotion_code": promo})
    ids = [s["coupon"]["id"] for s in specs if "coupon" in s]
    if len(ids) != len(set(ids)):
        raise invalid("The same coupon cannot be applied twice.", key)
    return specs


def apply_discounts(
    em: Emulator,
    specs: list[dict[str, Any]],
    *,
    at: int,
    customer: str,
    subscription: str | None = None,
    invoice: str | None = None,
    dry: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Redeem the specs and return the ids of the resulting ``discount`` objects. With ``dry`` (a dict),
    nothing is redeemed or stored: the would-be discounts are put in ``dry`` by id."""
    out: list[str] = []
    for spec in specs:
        if "discount" in spec:
            out.append(spec["discount"]["id"])
            continue
        coupon, promo = spec["coupon"], spec["promotion_code"]
        if dry is None:
            coupon["times_redeemed"] += 1
            refresh_coupon(em, coupon)
            if promo is not None:
                promo["times_redeemed"] += 1
        end = None
        if coupon["duration"] == "repeating":
            end = add_interval(at, "month", coupon["duration_in_months"])
        disc = {
            "id": new_id("di", 24),
            "object": "discount",
            "checkout_session": None,
            "customer": customer,
            "customer_account": None,
            "end": end,
            "invoice": invoice,
            "invoice_item": None,
            "promotion_code": promo["id"] if promo else None,
            "source": {"coupon": coupon["id"], "type": "coupon"},
            "start": at,
            "subscription": subscription,
            "subscription_item": None,
        }
        disc_id = str(disc["id"])
        if dry is None:
            em.store.insert(disc)
        else:
            dry[disc_id] = disc
        out.append(disc_id)
    return out
