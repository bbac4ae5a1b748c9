"""Billing helpers the pages share: the current plan, the demo's test card, money.
Plan changes, cancellation, invoices and cards are billingos's customer portal (/billing/portal/)."""

from __future__ import annotations

import stripe

from billingos import Billing, Money, StripeRequestError, StripeUnavailableError
from billingos.subscriptions import Subscription

ENDED = ("canceled", "incomplete_expired")

def current_subscription(billing: Billing, owner_id: str) -> Subscription | None:
    """The owner's live subscription, or else the most recent ended one, or None."""
    subs = billing.subscriptions.list(owner_id)
    live = [s for s in subs if s.status not in ENDED]
    return (live or subs)[-1] if subs else None


def plan_name(billing: Billing, sub: Subscription) -> str:
    product = next((i.product for i in sub.items if i.usage_type != "metered"), None)
    names = {p.id: p.name for p in billing.catalog.products(active=None)}
    return names.get(product or "", sub.price or "unknown plan")


def attach_card(billing: Billing, owner_id: str, token: str) -> str:
    """Attach a Stripe test card (demo tools) and make it the default. Returns "Visa •••• 0341".

    Customers add cards in the portal (a SetupIntent confirmed on Stripe's card page); the demo's
    "failing card" button attaches one directly to show dunning."""
    customer = billing.customers.get(owner_id=owner_id)
    try:
        pm = billing.stripe.v1.payment_methods.attach(token, params={"customer": customer.id})
    except stripe.APIConnectionError as e:
        raise StripeUnavailableError("Stripe could not be reached. Try again in a minute.") from e
    except stripe.StripeError as e:
        raise StripeRequestError(f"Stripe refused the card: {e.user_message or e}", stripe_code=e.code) from e
    billing.customers.update(owner_id, default_payment_method=pm.id)
    billing.payment_methods.sync(pm)
    card = pm.card
    return f"{card.brand.title()} •••• {card.last4}" if card else pm.id


def money(amount: int, currency: str) -> str:
    return Money(amount, currency).format()
