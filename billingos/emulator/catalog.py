"""Prices as other objects embed them: the rendered price (includable fields left out), the legacy
``plan`` of a subscription item, and whether a price is metered."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Emulator

# Fields Stripe leaves out of a price unless the request expands them.
INCLUDABLE = ("tiers", "currency_options")


def render_price(price: dict[str, Any], expand: list[str], prefix: str = "") -> dict[str, Any]:
    """The price as Stripe answers: includable fields only when expanded (``tiers``, ``data.tiers``)."""
    out = copy.deepcopy(price)
    for key in INCLUDABLE:
        if prefix + key not in expand:
            out.pop(key, None)
        else:
            out.setdefault(key, None)     # e.g. tiers of a per_unit price: null
    return out


def embedded_price(price: dict[str, Any]) -> dict[str, Any]:
    return render_price(price, [])


def live_price(em: Emulator, item: dict[str, Any]) -> dict[str, Any]:
    """The stored price of a subscription item (with its tiers, which the embedded copy leaves out)."""
    return em.store.objects[item["price"]["id"]]


def is_metered(price: dict[str, Any]) -> bool:
    return (price.get("recurring") or {}).get("usage_type") == "metered"


def plan_from_price(price: dict[str, Any]) -> dict[str, Any]:
    rec = price.get("recurring") or {}
    return {
        "id": price["id"],
        "object": "plan",
        "active": price.get("active", True),
        "amount": price.get("unit_amount"),
        "amount_decimal": price.get("unit_amount_decimal"),
        "billing_scheme": price.get("billing_scheme", "per_unit"),
        "created": price.get("created"),
        "currency": price["currency"],
        "interval": rec.get("interval"),
        "interval_count": rec.get("interval_count", 1),
        "livemode": False,
        "metadata": dict(price.get("metadata") or {}),
        "meter": rec.get("meter"),
        "nickname": price.get("nickname"),
        "product": price.get("product"),
        "tiers_mode": price.get("tiers_mode"),
        "transform_usage": price.get("transform_quantity"),
        "trial_period_days": rec.get("trial_period_days"),
        "usage_type": rec.get("usage_type", "licensed"),
    }
