"""Built-in handlers for ``product.*``, ``price.*`` and ``billing.meter.*``: Dashboard edits reach the mirror."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from ..stripe_api import call_stripe, plain
from .mirror import sync_meter, sync_price, sync_product

if TYPE_CHECKING:
    from ..billing import Billing
    from ..webhooks.schemas import WebhookContext


def register(billing: Billing) -> None:
    for name in ("created", "updated", "deleted"):
        billing.webhooks.subscribe(f"product.{name}", on_product_event)
        billing.webhooks.subscribe(f"price.{name}", on_price_event)
    for name in ("created", "updated", "deactivated", "reactivated"):
        billing.webhooks.subscribe(f"billing.meter.{name}", on_meter_event)


def _current(fetch: Callable[..., Any], obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """The object as Stripe has it now; a deleted one comes back as Stripe's deleted stub."""
    try:
        return plain(call_stripe(fetch, obj["id"]))
    except NotFoundError:
        return {"id": obj["id"], "object": kind, "deleted": True}


def on_product_event(ctx: WebhookContext) -> None:
    sync_product(ctx.session, _current(ctx.billing.stripe.v1.products.retrieve, ctx.object, "product"),
                 now=ctx.billing.now())


def on_price_event(ctx: WebhookContext) -> None:
    current = _current(ctx.billing.stripe.v1.prices.retrieve, ctx.object, "price")
    if not current.get("deleted"):   # prices are archived, not deleted; a deleted one keeps its last row
        sync_price(ctx.session, current, now=ctx.billing.now())


def on_meter_event(ctx: WebhookContext) -> None:
    current = _current(ctx.billing.stripe.v1.billing.meters.retrieve, ctx.object, "billing.meter")
    if not current.get("deleted"):
        sync_meter(ctx.session, current, now=ctx.billing.now())
