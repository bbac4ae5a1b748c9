"""The ``entitlement_summary`` mirror: Stripe's ``entitlements.active_entitlement_summary.updated``.

Stripe sends it when a customer's active entitlements change, including when a feature is attached to or
detached from a product they subscribe to. billingos re-reads those products' features from Stripe
(outside any transaction), then recomputes the owner's grants in the webhook's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..customers.models import BillingCustomer
from ..webhooks import Mirror, Sync

if TYPE_CHECKING:
    from ..context import Context
    from .service import EntitlementService

SUMMARY_UPDATED = "entitlements.active_entitlement_summary.updated"


def summary_mirror(entitlements: EntitlementService, ctx: Context) -> Mirror:
    def owner_of(customer_id: str) -> str | None:
        with ctx.session_factory() as session:
            return session.scalar(select(BillingCustomer.owner_id).where(BillingCustomer.stripe_id == customer_id))

    def fetch(customer_id: str) -> dict[str, Any] | None:
        owner = owner_of(customer_id)
        if owner:
            entitlements.refresh_products(owner)
        return {"customer": customer_id, "owner_id": owner}

    def apply(session: Session, sync: Sync) -> None:
        if sync.current and sync.current.get("owner_id"):
            entitlements.recompute_in(session, sync.current["owner_id"])

    def target(event: Mapping[str, Any]) -> str | None:
        customer = event["data"]["object"].get("customer")
        return customer if isinstance(customer, str) else None

    return Mirror("entitlement_summary", (SUMMARY_UPDATED,), fetch=fetch, apply=apply, target=target,
                  lock=lambda customer: f"entitlements-summary:{customer}")
