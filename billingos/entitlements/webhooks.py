"""The built-in handler for ``entitlements.active_entitlement_summary.updated``.

Stripe sends it when a customer's active entitlements change, including when a feature is attached to
or detached from a product they subscribe to. billingos re-reads those products' features from Stripe
and recomputes the owner's grants in the webhook's transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from ..customers.models import BillingCustomer

if TYPE_CHECKING:
    from ..billing import Billing
    from ..webhooks.schemas import WebhookContext

SUMMARY_UPDATED = "entitlements.active_entitlement_summary.updated"


def register(billing: Billing) -> None:
    billing.webhooks.subscribe(SUMMARY_UPDATED, on_summary_updated)


def on_summary_updated(ctx: WebhookContext) -> None:
    customer = ctx.object.get("customer")
    if not isinstance(customer, str):
        return
    owner = ctx.session.scalar(select(BillingCustomer.owner_id).where(BillingCustomer.stripe_id == customer))
    if owner:
        ctx.billing.entitlements.recompute_in(ctx.session, owner, refetch=True)
