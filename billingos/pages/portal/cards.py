"""Payment methods: list, add through a SetupIntent, make default, remove."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import BillingError, CardDeclinedError
from ..results import Redirect, Render, Result
from .account import notice
from .state import customer_or_none

if TYPE_CHECKING:
    from ..core import PageContext


def cards(ctx: PageContext, error: str | None = None, status: int = 200) -> Result:
    owner = ctx.owner_id
    customer = customer_or_none(ctx.billing, owner)
    methods = ctx.billing.payment_methods.list(owner) if customer else []
    return Render("portal/cards.html", {"title": "Payment methods", "nav": "cards", "methods": methods,
                                        "notice": notice(ctx), "error": error, "has_customer": customer is not None,
                                        "next": ctx.return_url(ctx.query.get("next"), "") or None}, status)


def add_card(ctx: PageContext) -> Result:
    """A SetupIntent, confirmed where Stripe.js would (the emulator's stand-in Elements page)."""
    owner = ctx.owner_id
    start = ctx.billing.payment_methods.start_setup(owner)
    back = ctx.url("portal.card_added", next=ctx.return_url(ctx.form.get("next"), "") or None)
    emulator = ctx.billing.emulator
    if emulator is None:
        return Render("portal/elements.html", {"title": "Add a card", "nav": "cards", "setup": start,
                                               "return_url": back,
                                               "publishable_key": ctx.options.get("publishable_key")})
    return Redirect(emulator.hosted.elements_url({"object": "setup_intent", "id": start.setup_intent,
                                                  "client_secret": start.client_secret}, back))


def card_added(ctx: PageContext) -> Result:
    """Where Stripe.js (or the stand-in) returns: record the card the SetupIntent saved."""
    owner = ctx.owner_id
    seti = ctx.query.get("setup_intent", "")
    try:
        ctx.billing.payment_methods.attach(owner, setup_intent=seti, make_default=True, actor=ctx.actor())
    except CardDeclinedError as err:
        return cards(ctx, error=str(err), status=402)
    nxt = ctx.return_url(ctx.query.get("next"), "")
    return Redirect(nxt or ctx.url("portal.cards", done="card_added"))


def set_default(ctx: PageContext) -> Result:
    ctx.billing.payment_methods.set_default(ctx.owner_id, ctx.params["payment_method_id"], actor=ctx.actor())
    return Redirect(ctx.url("portal.cards", done="default_set"))


def remove(ctx: PageContext) -> Result:
    try:
        ctx.billing.payment_methods.detach(ctx.owner_id, ctx.params["payment_method_id"], actor=ctx.actor())
    except BillingError as err:
        if err.status == 404:
            raise
        return cards(ctx, error=str(err), status=err.status)
    return Redirect(ctx.url("portal.cards", done="card_removed"))
