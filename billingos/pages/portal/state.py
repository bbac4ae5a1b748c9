"""What the portal pages read about an owner: their current subscription, plan names, plan options."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...errors import ConflictError, InvalidInputError, NotFoundError
from ...pricing.tiers import amount_for
from ..formatting import Formatter

if TYPE_CHECKING:
    from ...billing import Billing
    from ...catalog.snapshots import PriceInfo
    from ...customers import Customer
    from ...subscriptions import Subscription

ENDED = ("canceled", "incomplete_expired")
#: The most seats the plan picker offers when the price's metadata sets no ``max_quantity``.
MAX_SEATS = 1000


@dataclass(frozen=True)
class PlanOption:
    price: str            # the lookup key (or price id) the forms send
    name: str             # "Team"
    amount: str           # "$29.00"
    per: str              # "per month"
    action: str           # "Current", "Upgrade", "Downgrade", "Switch" or "Choose"
    unit_amount: int
    seats: bool = False   # billed per seat: the customer chooses a quantity
    quantity: int = 1     # the seats shown (the current ones on the current plan) or chosen
    max_quantity: int = 1
    info: PriceInfo | None = field(default=None, compare=False, repr=False)

    def total(self, quantity: int | None = None) -> int | None:
        """What ``quantity`` (default: the option's) seats cost a period, from the price's own tiers."""
        if self.info is None:
            return None
        try:
            return amount_for(self.info.model_dump(), self.quantity if quantity is None else quantity)
        except ValueError:      # a price it cannot rate (custom amounts): the page shows "from ..." instead
            return None


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


def plan_item(sub: Subscription | None) -> Any:
    """The live subscription's plan (licensed) item, or None."""
    if sub is None or sub.status in ENDED:
        return None
    return next((i for i in sub.items if i.usage_type != "metered"), None)


def plan_options(billing: Billing, sub: Subscription | None, fmt: Formatter) -> list[PlanOption]:
    """Every active, licensed, recurring price with a lookup key, labelled relative to ``sub``. A seat plan
    shows the seats the customer has now (on it, or on another seat plan), else one."""
    products = {p.id: p for p in billing.catalog.products()}
    item = plan_item(sub)
    prices = billing.catalog.prices()
    current = next((p for p in prices if item and p.id == item.price), None)
    have = (item.quantity or 1) if item is not None and current is not None and per_seat(current) else 1
    options = []
    for price in prices:
        product = products.get(price.product)
        amount = _one_unit(price)
        if product is None or price.type != "recurring" or price.usage_type == "metered" or not price.lookup_key \
                or amount is None:
            continue
        shown = fmt.money(amount, price.currency)
        seats = per_seat(price)
        top = _max_seats(price) if seats else 1
        options.append(PlanOption(price.lookup_key, product.name, shown if not price.tiers else f"from {shown}",
                                  _per(price), _action(price, current), amount, seats,
                                  min(have, top) if seats else 1, top, price))
    return sorted(options, key=lambda o: (o.per, o.unit_amount))


def chosen(options: list[PlanOption], value: str | None, quantity: str | None = None,
           sub: Subscription | None = None) -> PlanOption:
    """The option the customer picked, with the seats they chose (``quantity``, text from the form: a whole
    number from 1 to the plan's maximum; only seat plans take one) and what the change is for them."""
    option = next((o for o in options if o.price == value), None)
    if option is None:
        raise InvalidInputError("That plan is not on offer. Pick one of the plans listed.", param="price")
    seats = seat_count(option, quantity)
    item = plan_item(sub)
    if option.action == "Current":
        had = (item.quantity or 1) if item is not None else 1
        if seats == had:
            raise InvalidInputError(f"You are already on {option.name} ({option.per})"
                                    + (f" with {seats} seats." if option.seats else "."), param="price")
        return replace(option, quantity=seats, action="Add seats" if seats > had else "Remove seats")
    current = next((o for o in options if o.action == "Current"), None)
    if option.seats and current is not None and current.info is not None and option.info is not None \
            and option.info.interval == current.info.interval and option.action != "Switch":
        now, then = current.total((item.quantity or 1) if item is not None else 1), option.total(seats)
        action = "Upgrade" if (then or 0) > (now or 0) else "Downgrade" if (then or 0) < (now or 0) else "Switch"
        return replace(option, quantity=seats, action=action)
    return replace(option, quantity=seats)


def seat_count(option: PlanOption, raw: str | None) -> int:
    """The seats asked for: 1 for a plan not billed per seat (which takes no other), else 1..max."""
    text = (raw or "").strip()
    if not option.seats:
        if text not in ("", "1"):
            raise InvalidInputError(f"{option.name} is not billed per seat.", param="quantity")
        return 1
    if not text:
        return option.quantity
    if not (text.isascii() and text.isdigit() and len(text) <= 7 and 1 <= int(text) <= option.max_quantity):
        raise InvalidInputError(f"Choose a whole number of seats from 1 to {option.max_quantity:,}.",
                                param="quantity")
    return int(text)


def per_seat(price: PriceInfo) -> bool:
    """Billed per seat: a tiered price, or a per-unit one whose metadata says ``per_seat = "true"``."""
    return price.billing_scheme == "tiered" or price.metadata.get("per_seat") == "true"


def _max_seats(price: PriceInfo) -> int:
    """The price's ``max_quantity`` metadata (a whole number from 1 to 100,000), else ``MAX_SEATS``."""
    raw = price.metadata.get("max_quantity", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 100_000 else MAX_SEATS


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
