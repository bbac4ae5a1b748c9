"""Built-in handlers for ``customer.subscription.*``, ``subscription_schedule.*`` and
``checkout.session.completed``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import signals
from ..clock import utc
from ..errors import NotFoundError
from ..stripe_api import call_stripe, plain

if TYPE_CHECKING:
    from ..billing import Billing
    from ..webhooks.schemas import WebhookContext

SUBSCRIPTION_EVENTS = ("created", "updated", "deleted", "paused", "resumed", "trial_will_end",
                       "pending_update_applied", "pending_update_expired")


SCHEDULE_EVENTS = ("created", "updated", "released", "canceled", "completed", "aborted", "expiring")


def register(billing: Billing) -> None:
    for name in SUBSCRIPTION_EVENTS:
        billing.webhooks.subscribe(f"customer.subscription.{name}", on_subscription_event)
    billing.webhooks.subscribe("checkout.session.completed", on_checkout_completed)
    for name in SCHEDULE_EVENTS:
        billing.webhooks.subscribe(f"subscription_schedule.{name}", on_schedule_event)


def fetch_subscription(billing: Billing, sub_id: str) -> dict[str, Any] | None:
    try:
        return plain(call_stripe(billing.stripe.v1.subscriptions.retrieve, sub_id))
    except NotFoundError:
        return None


def apply_current(ctx: WebhookContext, sub_id: str) -> Any:
    """Fetch the subscription as Stripe has it now, make sure its customer is local, then sync it."""
    from ..invoices.webhooks import _ensure_customer
    current = fetch_subscription(ctx.billing, sub_id)
    if current is None:
        return None
    _ensure_customer(ctx, current)
    return ctx.billing.subscriptions.apply(ctx.session, current)


def on_subscription_event(ctx: WebhookContext) -> None:
    sub = apply_current(ctx, ctx.object["id"])
    if sub is not None and ctx.type == "customer.subscription.trial_will_end":
        trial_end = utc(ctx.object.get("trial_end"))
        ctx.on_commit(lambda: signals.trial_will_end.send(ctx.billing, subscription=sub, trial_end=trial_end))


def on_schedule_event(ctx: WebhookContext) -> None:
    """A subscription schedule changed: mirror it as Stripe has it now (its phases' prices expanded)."""
    try:
        current = plain(call_stripe(ctx.billing.stripe.v1.subscription_schedules.retrieve, ctx.object["id"],
                                    params={"expand": ["phases.items.price"]}))
    except NotFoundError:
        return
    ctx.billing.subscriptions.apply_schedule(ctx.session, current)


def on_checkout_completed(ctx: WebhookContext) -> None:
    """Checkout created the customer and subscription: link the customer to ``client_reference_id``."""
    session_obj = ctx.object
    billing = ctx.billing
    owner = session_obj.get("client_reference_id")
    customer_id = session_obj.get("customer")
    if owner and customer_id:
        key = billing.config.owner_metadata_key
        customer = call_stripe(billing.stripe.v1.customers.update, customer_id,
                               params={"metadata": {key: owner}},
                               options={"idempotency_key": f"billingos:checkout-owner:{ctx.event['id']}"})
        billing.customers.apply(ctx.session, plain(customer))
    if session_obj.get("subscription"):
        apply_current(ctx, str(session_obj["subscription"]))
