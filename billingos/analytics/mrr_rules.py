"""MRR of one Stripe subscription object, as ANALYTICS.md defines it (pure: no database, no Stripe).

Per licensed item: ``unit_amount × quantity × norm(interval) / interval_count``, a year 1/12, a week 52/12,
a day 365/12; tiered prices by their tier math; minus forever discounts; no tax, metered usage or
one-time charges. Only ``active`` (and ``past_due`` while Stripe retries) counts. Exact fractions until one
rounding (half up) per subscription, so 100 × $100/month + 50 × $600/year is exactly $12,500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..stripe_api import ref_id
from .settings import AnalyticsSettings

__all__ = ["SubState", "discount_detail", "state_of"]

_NORM = {"month": Fraction(1), "year": Fraction(1, 12), "week": Fraction(52, 12), "day": Fraction(365, 12)}



@dataclass(frozen=True)
class SubState:
    """What the ledger compares: the MRR (minor units) and the facts that explain a change of it."""

    mrr: int
    currency: str
    status: str
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[Any, ...]:
        d = self.detail
        return (self.mrr, self.currency, self.status, d.get("prices"), d.get("quantity"),
                tuple(x["id"] for x in d.get("discounts", [])), d.get("cancel_scheduled"))



def _unit(price: Mapping[str, Any]) -> Fraction:
    dec = price.get("unit_amount_decimal")
    if dec is not None:
        return Fraction(Decimal(str(dec)))
    return Fraction(int(price.get("unit_amount") or 0))


def _tiered(price: Mapping[str, Any], quantity: int) -> Fraction:
    """Stripe's tier math for ``quantity``: volume prices the whole quantity at its tier, graduated sums."""
    tiers = price.get("tiers") or []
    total, below = Fraction(0), 0
    for tier in tiers:
        upto = tier.get("up_to")
        unit = Fraction(Decimal(str(tier.get("unit_amount_decimal") or tier.get("unit_amount") or 0)))
        flat = Fraction(Decimal(str(tier.get("flat_amount_decimal") or tier.get("flat_amount") or 0)))
        if price.get("tiers_mode") == "volume":
            if upto is None or quantity <= upto:
                return unit * quantity + flat
            continue
        if quantity > below:
            n = (min(quantity, upto) if upto is not None else quantity) - below
            total += unit * n + flat
        if upto is None or quantity <= upto:
            break
        below = upto
    return total


def _item_mrr(item: Mapping[str, Any],
              known_tiers: Mapping[str, Mapping[str, Any]]) -> tuple[Fraction, Fraction | None]:
    """(MRR, the item's norm) of one subscription item; metered and one-time prices add nothing. A tiered
    price's tiers come from ``known_tiers`` when the object lacks them (Stripe sends them only expanded)."""
    price = item.get("price") or item.get("plan") or {}
    if not isinstance(price, Mapping):
        return Fraction(0), None
    if price.get("billing_scheme") == "tiered" and not price.get("tiers"):
        price = {**price, **known_tiers.get(str(price.get("id")), {})}
    recurring = price.get("recurring") or {}
    interval = recurring.get("interval") or price.get("interval")
    usage = recurring.get("usage_type") or price.get("usage_type") or "licensed"
    if interval not in _NORM or usage != "licensed":
        return Fraction(0), None
    norm = _NORM[interval] / int(recurring.get("interval_count") or price.get("interval_count") or 1)
    raw = item.get("quantity")
    quantity = int(raw) if raw is not None else 1
    if price.get("billing_scheme") == "tiered":
        amount = _tiered(price, quantity)
    else:
        amount = _unit(price) * quantity
    return amount * norm, norm


def discount_detail(discount: Any) -> dict[str, Any] | None:
    """A discount object as the ledger keeps it (None for a bare id): forever or not, and its amount."""
    if not isinstance(discount, Mapping):
        return None
    coupon = discount.get("coupon") or (discount.get("source") or {}).get("coupon") or {}
    if not isinstance(coupon, Mapping):
        return {"id": discount.get("id"), "forever": None}
    return {"id": discount.get("id"), "forever": coupon.get("duration") == "forever",
            "percent_off": coupon.get("percent_off"), "amount_off": coupon.get("amount_off"),
            "currency": coupon.get("currency")}


def _discounted(total: Fraction, norm: Fraction | None, currency: str,
                discounts: list[dict[str, Any]]) -> Fraction:
    for d in discounts:
        if not d.get("forever"):
            continue           # once / repeating discounts do not reduce MRR (ANALYTICS.md)
        if d.get("percent_off") is not None:
            total *= 1 - Fraction(Decimal(str(d["percent_off"]))) / 100
        elif d.get("amount_off") is not None and d.get("currency") == currency and norm is not None:
            total -= int(d["amount_off"]) * norm       # an amount off each invoice, per month
    return max(total, Fraction(0))


def state_of(obj: Mapping[str, Any], settings: AnalyticsSettings,
             known_discounts: Mapping[str, dict[str, Any]] | None = None,
             known_tiers: Mapping[str, Mapping[str, Any]] | None = None) -> SubState:
    """The MRR state of a Stripe subscription object. ``known_discounts``: details of discounts the object
    names only by id (seen expanded earlier); an unknown one reduces nothing and is marked unresolved.
    ``known_tiers``: price id -> ``{"tiers": [...], "tiers_mode": ...}`` for tiered prices the object does
    not expand (the local catalog mirror has them)."""
    status = str(obj.get("status") or "incomplete")
    if obj.get("pause_collection") and status == "active":
        status = "paused"
    currency = str(obj.get("currency") or "usd").lower()
    items = (obj.get("items") or {}).get("data") or []
    total, norm = Fraction(0), None
    for item in items:
        amount, item_norm = _item_mrr(item, known_tiers or {})
        total += amount
        norm = norm or item_norm
    discounts = []
    for raw in obj.get("discounts") or ([obj["discount"]] if obj.get("discount") else []):
        detail = dict(raw) if isinstance(raw, Mapping) and "forever" in raw else (
            discount_detail(raw) or (known_discounts or {}).get(ref_id(raw) or "")
            or {"id": ref_id(raw), "forever": None, "unresolved": True})
        discounts.append(detail)
    total = _discounted(total, norm, currency, discounts)
    scheduled = bool(obj.get("cancel_at_period_end")) or obj.get("cancel_at") is not None
    counted = status == "active" or (status == "past_due" and settings.count_past_due)
    if scheduled and settings.cancel_counts_at == "scheduled":
        counted = False
    mrr = int(total + Fraction(1, 2)) if counted else 0          # half up, once per subscription
    prices = ",".join(sorted(str(ref_id(i.get("price")) or "") for i in items))
    quantity = sum(int(i.get("quantity") or 0) for i in items)
    return SubState(mrr, currency, status, {"prices": prices, "quantity": quantity, "discounts": discounts,
                                            "cancel_scheduled": scheduled})
