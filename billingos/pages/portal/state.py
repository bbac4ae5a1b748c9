"""What the portal pages read about an owner: their current subscription, plan names, plan options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...errors import ConflictError, InvalidInputError, NotFoundError
from ..formatting import Formatter

if TYPE_CHECKING:
    from ...billing import Billing
    from ...catalog.snapshots import PriceInfo
    from ...customers import Customer
    from ...subscriptions import Subscription

ENDED = ("canceled", "incomplete_expired")


@dataclass(frozen=True)
class PlanOption:
    price: str            # the lookup key (or price id) the forms send
    name: str             # "Team"
    amount: str           # "$29.00"
    per: str              # "per month"
    action: str           # "Current", "Upgrade", "Downgrade", "Switch" or "Choose"
    unit_amount: int


def customer_or_none(billing: Billing, owner_id: str) -> Customer | None:
    try:
        return billing.customers.get(owner_id=owner_id)
    except NotFoundError:
        return None


def current_subscription(subs: list[Subscription]) -> Subscription | None:
    """The live subscription, else the most recent ended one (to reactivate), else None."""
    live = [s for s in subs if s.status not in ENDED]
    return (live or subs)[-1] if subs else None


def live_subscription(billing: Billing, owner_id: str) -> Subscription:
    sub = current_subscription(billing.subscriptions.list(owner_id))
    if sub is None or sub.status in ENDED:
        raise ConflictError("You have no current plan. Choose a plan first.")
    return sub


def status_words(sub: Subscription | None, fmt: Formatter, now: datetime) -> str:
    """"Trialing until 17 Jan 2027", "Renews on …", "Cancels on …", "Past due since …", "Canceled on …"."""
    if sub is None:
        return "You have no plan yet."
    if sub.status in ENDED:
        return f"Canceled on {fmt.date(sub.ended_at or sub.canceled_at)}."
    if sub.cancel_at_period_end or sub.cancel_at:
        return f"Active until {fmt.date(sub.cancel_at or sub.current_period_end)}, then it cancels."
    if sub.status == "trialing":
        return f"Free trial until {fmt.date(sub.trial_end)}."
    if sub.status in ("past_due", "unpaid"):
        return f"Payment overdue since {fmt.date(sub.current_period_start)}. Update your card to keep your plan."
    if sub.paused or sub.status == "paused":
        return "Paused."
    if sub.status == "incomplete":
        return "Waiting for the first payment."
    return f"Renews on {fmt.date(sub.current_period_end)}."


def plan_name(products: dict[str, Any], sub: Subscription | None) -> str:
    if sub is None:
        return "No plan"
    item = next((i for i in sub.items if i.usage_type != "metered"), None)
    product = products.get(item.product or "") if item else None
    return product.name if product is not None else "Your plan"


def plan_options(billing: Billing, sub: Subscription | None, fmt: Formatter) -> list[PlanOption]:
    """Every active, licensed, recurring price with a lookup key, labelled relative to ``sub``."""
    products = {p.id: p for p in billing.catalog.products()}
    live = sub is not None and sub.status not in ENDED
    item = next((i for i in sub.items if i.usage_type != "metered"), None) if sub is not None and live else None
    prices = billing.catalog.prices()
    current = next((p for p in prices if item and p.id == item.price), None)
    options = []
    for price in prices:
        product = products.get(price.product)
        amount = _one_unit(price)
        if product is None or price.type != "recurring" or price.usage_type == "metered" or not price.lookup_key \
                or amount is None:
            continue
        shown = fmt.money(amount, price.currency)
        options.append(PlanOption(price.lookup_key, product.name, shown if not price.tiers else f"from {shown}",
                                  _per(price), _action(price, current), amount))
    return sorted(options, key=lambda o: (o.per, o.unit_amount))


def chosen(options: list[PlanOption], value: str | None) -> PlanOption:
    option = next((o for o in options if o.price == value), None)
    if option is None:
        raise InvalidInputError("That plan is not on offer. Pick one of the plans listed.", param="price")
    if option.action == "Current":
        raise InvalidInputError(f"You are already on {option.name} ({option.per}).", param="price")
    return option


def _per(price: PriceInfo) -> str:
    count = price.interval_count or 1
    return f"per {price.interval}" if count == 1 else f"every {count} {price.interval}s"


def _one_unit(price: PriceInfo) -> int | None:
    """What one unit costs a period: the unit amount, or a tiered price's first tier (flat + one unit)."""
    if price.unit_amount is not None:
        return price.unit_amount
    if price.tiers:
        first = price.tiers[0]
        return int(first.get("flat_amount") or 0) + int(first.get("unit_amount") or 0)
    return None


def _action(price: PriceInfo, current: PriceInfo | None) -> str:
    if current is None:
        return "Choose"
    if price.id == current.id:
        return "Current"
    if price.interval != current.interval:
        return "Switch"
    a, b = _one_unit(price) or 0, _one_unit(current) or 0
    return "Upgrade" if a > b else "Downgrade" if a < b else "Switch"
