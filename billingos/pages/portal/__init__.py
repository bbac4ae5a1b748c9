"""The customer portal at ``{prefix}/portal/``: page functions and their route table."""

from __future__ import annotations

from ..core import PageContext, Route
from ..results import Redirect, Result
from . import account, cards, invoices, usage

__all__ = ["portal_routes"]


def portal_routes(mode: str = "pages") -> list[Route]:
    """The routes for ``portal_mode``: billingos's pages, one redirect to Stripe's portal, or none."""
    if mode == "off":
        return []
    if mode == "stripe":
        return [Route("portal.overview", "/portal/", ("GET",), stripe_portal)]
    get, post = ("GET",), ("POST",)
    return [
        Route("portal.overview", "/portal/", get, account.overview),
        Route("portal.plans", "/portal/plans", get, account.plans),
        Route("portal.preview", "/portal/plans/preview", get, account.preview),
        Route("portal.change", "/portal/plans/change", post, account.change),
        Route("portal.keep_plan", "/portal/plans/keep", post, account.keep_plan),
        Route("portal.cancel_form", "/portal/cancel", get, account.cancel_form),
        Route("portal.cancel", "/portal/cancel", post, account.cancel),
        Route("portal.resume", "/portal/resume", post, account.resume),
        Route("portal.invoices", "/portal/invoices", get, invoices.invoice_list),
        Route("portal.invoice", "/portal/invoices/{invoice_id}", get, invoices.invoice_detail),
        Route("portal.invoice_pdf", "/portal/invoices/{invoice_id}/pdf", get, invoices.invoice_pdf),
        Route("portal.cards", "/portal/payment-methods", get, cards.cards),
        Route("portal.add_card", "/portal/payment-methods/add", post, cards.add_card),
        Route("portal.card_added", "/portal/payment-methods/added", get, cards.card_added),
        Route("portal.set_default", "/portal/payment-methods/{payment_method_id}/default", post, cards.set_default),
        Route("portal.remove_card", "/portal/payment-methods/{payment_method_id}/remove", post, cards.remove),
        Route("portal.usage", "/portal/usage", get, usage.usage),
        Route("portal.usage_bars", "/portal/usage/bars", get, usage.usage_bars),
        Route("portal.usage_alerts", "/portal/usage/alerts", post, usage.save_alerts),
    ]


def stripe_portal(ctx: PageContext) -> Result:
    """``portal_mode="stripe"``: a Billing Portal session for the owner, and a redirect to it."""
    from ...stripe_api import call_stripe
    customer = ctx.billing.customers.get(owner_id=ctx.owner_id)
    back = ctx.options.get("return_url") or "/"
    session = call_stripe(ctx.billing.stripe.v1.billing_portal.sessions.create,
                          params={"customer": customer.id, "return_url": _absolute(ctx, back)})
    return Redirect(str(session.url), 303)


def _absolute(ctx: PageContext, url: str) -> str:
    """Stripe wants an absolute return_url: a path is joined to the request's origin."""
    return url if not url.startswith("/") else ctx.origin + url
