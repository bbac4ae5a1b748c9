"""Built-in webhook handlers for ``customer.*``: fetch the current object, then the one sync path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from ..stripe_api import call_stripe, plain

if TYPE_CHECKING:
    from ..billing import Billing
    from ..webhooks.schemas import WebhookContext


def register(billing: Billing) -> None:
    for event_type in ("customer.created", "customer.updated", "customer.deleted"):
        billing.webhooks.subscribe(event_type, on_customer_event)


def on_customer_event(ctx: WebhookContext) -> None:
    """The payload may be stale or out of order; Stripe's current object never is."""
    current = fetch_current(ctx.billing, ctx.object)
    ctx.billing.customers.apply(ctx.session, current)


def fetch_current(billing: Billing, obj: dict[str, Any]) -> dict[str, Any]:
    try:
        found = call_stripe(billing.stripe.v1.customers.retrieve, obj["id"])
    except NotFoundError:
        return {"id": obj["id"], "object": "customer", "deleted": True}
    return plain(found)
