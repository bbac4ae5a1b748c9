"""``billing.usage.projected_invoice``: the next renewal invoice, rated with ``billingos.pricing``.

It mirrors what Stripe (and the emulator) bill at the period end: licensed items for the coming period
in advance, metered items for this period's usage in arrears. The metered quantity is the local period
total, which the Stripe push delivers to the meter; the projection scales it linearly to the period end.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..catalog.models import BillingMeter, BillingPrice
from ..pricing import project, rate
from ..subscriptions.models import BillingSubscription
from . import repository as repo
from .schemas import ProjectedInvoice, ProjectedLine

if TYPE_CHECKING:
    from ..context import Context


def price_shape(row: BillingPrice | None, fallback: dict[str, Any]) -> dict[str, Any]:
    """The Stripe price dict the pricing engine rates, from the mirrored row (tiers included)."""
    if row is None:
        return fallback
    dec = row.unit_amount_decimal
    return {"id": row.stripe_id, "billing_scheme": row.billing_scheme, "unit_amount": row.unit_amount,
            "unit_amount_decimal": None if dec is None else str(dec), "tiers_mode": row.tiers_mode,
            "tiers": row.tiers or fallback.get("tiers"), "transform_quantity": row.transform_quantity}


def _round(x: Fraction) -> int:
    whole = x.numerator // x.denominator
    return whole + (1 if (x - whole) * 2 >= 1 else 0)


def project_invoice(ctx: Context, owner_id: str) -> ProjectedInvoice:
    now = ctx.now()
    with ctx.session_factory() as s:
        subs = list(s.scalars(select(BillingSubscription).where(
            BillingSubscription.owner_id == owner_id, BillingSubscription.status.in_(repo.LIVE))
            .order_by(BillingSubscription.id.desc())))
        sub = next((x for x in subs if x.current_period_start is not None and x.current_period_end is not None), None)
        if sub is None:
            return ProjectedInvoice(owner_id, None, None, None, None)
        assert sub.current_period_start is not None and sub.current_period_end is not None
        start, end = sub.current_period_start, sub.current_period_end
        lines: list[ProjectedLine] = []
        for item in sub.items:
            row = s.scalars(select(BillingPrice).where(BillingPrice.stripe_id == item.price_stripe_id)).first()
            stripe_price = dict((item.data or {}).get("price") or {})
            price = price_shape(row, stripe_price)
            label = (row.nickname or row.lookup_key) if row is not None else None
            label = label or stripe_price.get("nickname") or item.price_stripe_id
            metered = (item.usage_type or (row.usage_type if row else None)) == "metered"
            if not metered:
                qty = int(item.quantity or 0)
                amount = rate(price, qty).amount
                lines.append(ProjectedLine(item.price_stripe_id, f"{qty} × {label}", False, qty, amount, qty, amount))
                continue
            meter_id = (row.meter if row is not None else None) or (stripe_price.get("recurring") or {}).get("meter")
            event_name = s.scalars(select(BillingMeter.event_name).where(BillingMeter.stripe_id == meter_id)).first()
            used = repo.summary_value(s, owner_id, event_name, (start, end)) if event_name else 0
            projected = _round(project(used, start, end, now))
            lines.append(ProjectedLine(item.price_stripe_id, f"{used} × {label}", True, used, rate(price, used).amount,
                                       projected, rate(price, projected).amount, event_name))
    return ProjectedInvoice(owner_id, sub.stripe_id, sub.currency, start, end, tuple(lines))
