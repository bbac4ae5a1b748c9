"""Upgrade nudges: usage at 90% of a limit, seats maxed out, or a projected overage that makes a higher plan
cheaper. Every plan is priced with ``billingos.pricing`` at the customer's seats and projected usage.

A *plan* is a catalog product with a licensed recurring price in the subscription's currency and interval
(plus, optionally, metered prices). A higher plan is one whose limits are all at least the current plan's;
the suggestion is the cheapest higher plan whose limits cover the projected usage (and one more seat when
the seats are maxed out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..catalog.models import BillingFeature, BillingMeter, BillingPlanFeature, BillingPrice, BillingProduct
from ..pricing import project, rate
from ..subscriptions.models import BillingSubscription
from ..usage.models import BillingUsageSummary
from ..usage.projection import price_shape
from .schemas import UpgradeSuggestion

__all__ = ["UPGRADE_AT", "Plan", "plans", "suggest"]

#: Share of a limit at which usage suggests an upgrade.
UPGRADE_AT = 0.9
LIVE = ("active", "past_due", "trialing")


@dataclass
class Plan:
    product: str                           # Stripe product id
    key: str                               # the catalog key (or the product id)
    licensed: BillingPrice
    metered: dict[str, BillingPrice] = field(default_factory=dict)     # meter event name -> price
    limits: dict[str, int | None] = field(default_factory=dict)        # meter or seat feature -> limit (None: no cap)

    def cost(self, seats: int, usage: dict[str, int]) -> int:
        total = rate(price_shape(self.licensed, {}), seats).amount
        for meter, price in self.metered.items():
            total += rate(price_shape(price, {}), usage.get(meter, 0)).amount
        return total

    def covers(self, needs: dict[str, int]) -> bool:
        for what, amount in needs.items():
            if what not in self.limits:
                return False
            limit = self.limits[what]
            if limit is not None and limit < amount:
                return False
        return True

    def at_least(self, other: Plan) -> bool:
        """Every limit of ``other`` is matched here (a higher or equal plan)."""
        for what, limit in other.limits.items():
            mine = self.limits.get(what, 0)
            if limit is None and mine is not None:
                return False
            if limit is not None and mine is not None and mine < limit:
                return False
        return True


def plans(s: Session, *, currency: str, interval: str | None, interval_count: int | None,
          seat_feature: str) -> dict[str, Plan]:
    """Every active plan sold in ``currency`` per ``interval``, by product id."""
    p = BillingPrice
    prices = list(s.scalars(select(p).where(p.active.is_(True), p.type == "recurring", p.currency == currency,
                                             p.interval == interval).order_by(p.id)))
    meter_of = dict(s.execute(select(BillingMeter.stripe_id, BillingMeter.event_name)).all()) if prices else {}
    products = {r.stripe_id: r for r in s.scalars(select(BillingProduct).where(BillingProduct.active.is_(True),
                                                                                BillingProduct.deleted_at.is_(None)))}
    out: dict[str, Plan] = {}
    for price in prices:
        if price.product not in products or (price.interval_count or 1) != (interval_count or 1):
            continue
        if price.usage_type == "metered":
            continue
        out.setdefault(price.product, Plan(price.product, products[price.product].key or price.product, price))
    for price in prices:
        plan = out.get(price.product)
        if plan is not None and price.usage_type == "metered" and meter_of.get(price.meter or ""):
            plan.metered[meter_of[price.meter or ""]] = price
    meter_by_feature = dict(s.execute(select(BillingFeature.lookup_key, BillingFeature.meter_event_name)).all())
    for pf in s.scalars(select(BillingPlanFeature).where(BillingPlanFeature.product.in_(list(out)))):
        key = seat_feature if pf.feature_key == seat_feature else meter_by_feature.get(pf.feature_key)
        if key is None:
            continue
        limit = None if pf.unlimited else pf.limit_value
        plan = out[pf.product]
        old = plan.limits.get(key, 0)
        plan.limits[key] = None if limit is None or old is None else max(old, limit)
    return out


def suggest(s: Session, owner_id: str, *, now: datetime, seat_feature: str = "seats") -> UpgradeSuggestion | None:
    """The nudge for ``owner_id`` now, or None: nothing is near a limit, or no higher plan would serve better."""
    sub = s.scalars(select(BillingSubscription).where(BillingSubscription.owner_id == owner_id,
                                                      BillingSubscription.status.in_(LIVE),
                                                      BillingSubscription.current_period_start.is_not(None))
                    .order_by(BillingSubscription.id.desc())).first()
    if sub is None or sub.current_period_end is None or sub.current_period_start is None:
        return None
    licensed = [i for i in sub.items if i.usage_type != "metered"]
    if not licensed:
        return None
    item = licensed[0]
    price = s.scalars(select(BillingPrice).where(BillingPrice.stripe_id == item.price_stripe_id)).first()
    if price is None or price.type != "recurring":
        return None
    catalog = plans(s, currency=price.currency, interval=price.interval, interval_count=price.interval_count,
                    seat_feature=seat_feature)
    current = catalog.get(price.product)
    if current is None:
        return None
    start, end = sub.current_period_start, sub.current_period_end
    seats = int(item.quantity or 1)
    used = _period_usage(s, owner_id, start)
    projected = {m: math.ceil(project(v, start, end, now)) for m, v in used.items()}
    reasons = []
    for meter, limit in current.limits.items():
        if meter != seat_feature and limit and used.get(meter, 0) >= UPGRADE_AT * limit:
            reasons.append("usage_90")
            break
    seat_limit = current.limits.get(seat_feature)
    if seat_limit is not None and seats >= seat_limit:
        reasons.append("seats_maxed")
    needs = {m: v for m, v in projected.items() if m in current.limits}
    if seat_feature in current.limits:
        needs[seat_feature] = seats + (1 if "seats_maxed" in reasons else 0)
    usage_now = {m: projected.get(m, 0) for m in {*projected, *current.metered}}
    current_cost = current.cost(seats, usage_now)
    higher = [p for pid, p in catalog.items() if pid != current.product and p.at_least(current) and p.covers(needs)]
    if not higher:
        return None
    best = min(higher, key=lambda p: (p.cost(seats, usage_now), p.product))
    best_cost = best.cost(seats, usage_now)
    if best_cost < current_cost:
        reasons.append("cheaper_plan")
    if not reasons:
        return None
    return UpgradeSuggestion(owner_id, tuple(reasons), current.key, best.key,
                             best.licensed.lookup_key or best.licensed.stripe_id, price.currency, current_cost,
                             best_cost, projected, start, end)


def _period_usage(s: Session, owner_id: str, start: datetime) -> dict[str, int]:
    t = BillingUsageSummary
    return {m: int(v) for m, v in s.execute(select(t.meter, t.value).where(t.owner_id == owner_id,
                                                                          t.period_start == start))}


def message(sg: UpgradeSuggestion) -> str:
    why = {"usage_90": "usage reached 90% of a plan limit", "seats_maxed": "every seat is taken",
           "cheaper_plan": "the projected overage makes it cheaper"}
    money = f"{sg.suggested_amount / 100:,.2f} {sg.currency.upper()} instead of {sg.current_amount / 100:,.2f}"
    return f"Suggest {sg.suggested_plan} ({'; '.join(why[r] for r in sg.reasons)}): {money} this period."
