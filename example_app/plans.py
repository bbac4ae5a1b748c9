"""What the plan pages show and accept: the app's own choices (which prices it offers, what counts as
an upgrade, which proration each direction uses). Every billing decision stays in billingos."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

import stripe
from flask import g, redirect, url_for

from billingos import (
    Billing,
    ConflictError,
    InvalidInputError,
    Money,
    StripeRequestError,
    StripeUnavailableError,
)
from billingos.subscriptions import Subscription
from billingos.subscriptions.schemas import Proration

from .catalog import _price_line

TRIAL_PRICE = "pro_monthly"      # signup starts a trial on Pro ...
TRIAL_DAYS = 14                  # ... for 14 days, no card needed
TEST_CARD = "pm_card_visa"       # Stripe's test token; a real app collects cards with Stripe Elements
ENDED = ("canceled", "incomplete_expired")
#: Upgrades are charged now; downgrades apply at the next renewal (the customer keeps the plan paid for
#: until then: "a downgrade at period end" in docs/subscriptions.md); same-tier switches are prorated onto
#: the next invoice, except a change of billing interval, which Stripe invoices at once (the preview says so).
PRORATION: dict[str, Proration] = {"Upgrade": "always_invoice", "Downgrade": "at_period_end", "Switch": "prorate"}
PREVIEW_MAX_AGE = timedelta(hours=1)

F = TypeVar("F", bound=Callable[..., Any])


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            return redirect(url_for("app.login"))
        return view(*args, **kwargs)
    return cast(F, wrapper)


@dataclass(frozen=True)
class PlanOption:
    lookup_key: str
    product: str        # the product's name: "Team"
    nickname: str       # "Team monthly (per seat)"
    amount: str         # "$29.00", or tiers in words
    per: str            # "per month"
    action: str         # "Current", "Upgrade", "Downgrade" or "Switch"

    @property
    def proration(self) -> Proration:
        return PRORATION.get(self.action, "prorate")


def current_subscription(billing: Billing, owner_id: str) -> Subscription | None:
    """The owner's live subscription, or else the most recent ended one (to reactivate), or None."""
    subs = billing.subscriptions.list(owner_id)
    live = [s for s in subs if s.status not in ENDED]
    return (live or subs)[-1] if subs else None


def live_subscription(billing: Billing, owner_id: str) -> Subscription:
    sub = current_subscription(billing, owner_id)
    if sub is None or sub.status in ENDED:
        raise ConflictError("You have no current plan to change. Start a trial or reactivate your plan first.")
    return sub


def plan_name(billing: Billing, sub: Subscription) -> str:
    product = next((i.product for i in sub.items if i.usage_type != "metered"), None)
    names = {p.id: p.name for p in billing.catalog.products(active=None)}
    return names.get(product or "", sub.price or "unknown plan")


def plan_options(billing: Billing, sub: Subscription | None) -> list[PlanOption]:
    """Every active, licensed, recurring price of the catalog, labelled relative to ``sub``."""
    products = {p.id: p for p in billing.catalog.products()}
    current_item = next((i for i in sub.items if i.usage_type != "metered"), None) if sub else None
    current_tier = _tier(products.get(current_item.product or "")) if current_item else None
    options = []
    for price in billing.catalog.prices():
        product = products.get(price.product)
        if product is None or not price.recurring or price.usage_type == "metered" or not price.lookup_key:
            continue
        line = _price_line(price)
        if current_item is None or current_tier is None:
            action = "Choose"
        elif price.id == current_item.price:
            action = "Current"
        else:
            tier = _tier(product)
            action = "Upgrade" if tier > current_tier else "Downgrade" if tier < current_tier else "Switch"
        options.append(PlanOption(price.lookup_key, product.name, price.nickname or product.name,
                                  line.amount, line.per, action))
    return options


def chosen_option(billing: Billing, sub: Subscription, form_value: str | None) -> PlanOption:
    """The plan a form asked for, if the app offers it and it is not the current one."""
    option = next((o for o in plan_options(billing, sub) if o.lookup_key == form_value), None)
    if option is None:
        raise InvalidInputError("That plan is not on offer. Pick one of the plans listed below.", param="price")
    if option.action == "Current":
        raise InvalidInputError(f"You are already on {option.nickname}.", param="price")
    return option


def proration_date(value: str | None, now: datetime) -> datetime:
    """The preview's proration date echoed by the confirm form, so the change bills what was shown."""
    if not value or not (value.isascii() and value.isdigit()):
        raise InvalidInputError("This confirmation is incomplete. Review the change again.", param="proration_date")
    stamp, current = int(value), int(now.timestamp())
    if not current - PREVIEW_MAX_AGE.total_seconds() <= stamp <= current + 60:
        raise InvalidInputError("This preview is out of date. Review the change again.", param="proration_date")
    return datetime.fromtimestamp(stamp, tz=now.tzinfo)


def attach_card(billing: Billing, owner_id: str, token: str) -> str:
    """Attach a Stripe test card to the owner's customer and make it the default. Returns "Visa •••• 4242".

    The demo calls Stripe directly through ``billing.stripe`` (billingos has no card API: cards are
    collected in the browser by Stripe Elements); the default is then set through billingos."""
    customer = billing.customers.get(owner_id=owner_id)
    try:
        pm = billing.stripe.v1.payment_methods.attach(token, params={"customer": customer.id})
    except stripe.APIConnectionError as e:
        raise StripeUnavailableError("Stripe could not be reached. Try again in a minute.") from e
    except stripe.StripeError as e:
        raise StripeRequestError(f"Stripe refused the card: {e.user_message or e}", stripe_code=e.code) from e
    billing.customers.update(owner_id, default_payment_method=pm.id)
    card = pm.card
    return f"{card.brand.title()} •••• {card.last4}" if card else pm.id


def money(amount: int, currency: str) -> str:
    return Money(amount, currency).format()


def _tier(product: Any) -> int:
    raw = (product.metadata if product is not None else {}).get("tier", "1")
    return int(raw) if str(raw).isdigit() else 1
