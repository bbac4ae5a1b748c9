"""Subscriptions: the list, one subscription's page, and the admin's actions on it (each through the
subscription service, each a CSRF-checked POST, each audited): cancel, resume, change plan (after Stripe's
preview), cancel a scheduled change, reactivate an ended one, apply a coupon; and a customer's
entitlement overrides (grant, revoke)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from ...errors import ConflictError, InvalidInputError, NotFoundError
from ..results import Redirect, Result
from ..safety import preview_stamp
from .common import actor, optional, page

if TYPE_CHECKING:
    from ...subscriptions import Subscription
    from ..core import PageContext

ENDED = ("canceled", "incomplete_expired")
PRORATIONS = (("always_invoice", "Now, invoiced at once"), ("prorate", "Now, prorated on the next invoice"),
              ("none", "Now, without proration"), ("at_period_end", "At the end of the period"))


def subscription_list(ctx: PageContext) -> Result:
    from ...admin.service import SUBSCRIPTION_STATUSES
    status, plan = optional(ctx.query.get("status")), optional(ctx.query.get("plan"))
    listing = ctx.billing.admin.subscriptions(status=status, plan=plan, after=optional(ctx.query.get("after")))
    query = {k: v for k, v in (("status", status), ("plan", plan)) if v}
    products = {p.id: p.name for p in ctx.billing.catalog.products(active=None)}
    return page(ctx, "subscriptions.html", "subscriptions", "Subscriptions", subscriptions=listing.items,
                products=products, statuses=SUBSCRIPTION_STATUSES, query=query,
                next_url=ctx.url("admin.subscriptions", **query, after=listing.next_cursor)
                if listing.next_cursor else None)


def _subscription(ctx: PageContext) -> Subscription:
    sid = ctx.params["subscription_id"]
    ctx.admin    # noqa: B018
    if not sid.startswith("sub_"):
        raise NotFoundError("No such subscription.")
    return ctx.billing.subscriptions.get(sid)


def detail(ctx: PageContext, error: str | None = None, status: int = 200) -> Result:
    sub = _subscription(ctx)
    prices = [p for p in ctx.billing.catalog.prices() if p.type == "recurring" and p.usage_type != "metered"]
    products = {p.id: p.name for p in ctx.billing.catalog.products(active=None)}
    return page(ctx, "subscription.html", "subscriptions", f"Subscription {sub.id}", status, subscription=sub,
                prices=prices, products=products, prorations=PRORATIONS, error=error,
                invoices=ctx.billing.admin.invoices(sub.customer, limit=10))


def cancel(ctx: PageContext) -> Result:
    sub = _subscription(ctx)
    when = ctx.form.get("when", "period_end")
    if when not in ("now", "period_end"):
        raise InvalidInputError("Choose when to cancel: now or at the end of the period.", param="when")
    ctx.billing.subscriptions.cancel(sub, at_period_end=when == "period_end", prorate=ctx.form.get("prorate") == "yes",
                                     actor=actor(ctx))
    return Redirect(ctx.url("admin.subscription", subscription_id=sub.id,
                            done="cancels" if when == "period_end" else "canceled"))


def resume(ctx: PageContext) -> Result:
    sub = _subscription(ctx)
    ctx.billing.subscriptions.resume(sub, actor=actor(ctx))
    return Redirect(ctx.url("admin.subscription", subscription_id=sub.id, done="resumed"))


def cancel_scheduled_change(ctx: PageContext) -> Result:
    sub = _subscription(ctx)
    ctx.billing.subscriptions.cancel_scheduled_change(sub, actor=actor(ctx))
    return Redirect(ctx.url("admin.subscription", subscription_id=sub.id, done="unscheduled"))


def reactivate(ctx: PageContext) -> Result:
    """A new subscription with the ended one's items; refused while the customer has a live one (a double
    click, or a second tab, must not subscribe them twice)."""
    sub = _subscription(ctx)
    live = [s for s in ctx.billing.subscriptions.list(sub.owner_id or "") if s.status not in ENDED] \
        if sub.owner_id else []
    if live:
        raise ConflictError(f"This customer already has a live subscription ({live[-1].id}): open it instead.")
    new = ctx.billing.subscriptions.reactivate(sub, payment_behavior="error_if_incomplete", actor=actor(ctx))
    return Redirect(ctx.url("admin.subscription", subscription_id=new.id, done="reactivated"))


def _choice(ctx: PageContext, source: dict[str, str]) -> tuple[str, str]:
    price = (source.get("price") or "").strip()
    if price not in {p.lookup_key or p.id for p in ctx.billing.catalog.prices()}:
        raise InvalidInputError("Choose one of the plans listed.", param="price")
    proration = source.get("proration", "always_invoice")
    if proration not in dict(PRORATIONS):
        raise InvalidInputError("Choose when the change applies.", param="proration")
    return price, proration


def preview(ctx: PageContext) -> Result:
    sub = _subscription(ctx)
    try:
        price, proration = _choice(ctx, ctx.query)
    except InvalidInputError as err:
        return detail(ctx, str(err), 400)
    result = ctx.billing.subscriptions.preview_change(sub, price=price, proration=proration)  # type: ignore[arg-type]
    return page(ctx, "change.html", "subscriptions", "Review the plan change", subscription=sub, price=price,
                proration=proration, when=dict(PRORATIONS)[proration], preview=result,
                stamp=result.proration_date if proration != "at_period_end" else None)


def change(ctx: PageContext) -> Result:
    sub = _subscription(ctx)
    price, proration = _choice(ctx, ctx.form)
    stamp = preview_stamp(ctx.form.get("stamp"), ctx.billing.now()) if proration != "at_period_end" else None
    ctx.billing.subscriptions.change(sub, price=price, proration=proration,  # type: ignore[arg-type]
                                     proration_date=stamp, actor=actor(ctx))
    return Redirect(ctx.url("admin.subscription", subscription_id=sub.id,
                            done="scheduled" if proration == "at_period_end" else "changed"))


def coupon(ctx: PageContext) -> Result:
    sub = _subscription(ctx)
    ctx.billing.subscriptions.apply_coupon(sub, (ctx.form.get("coupon") or "").strip(), actor=actor(ctx))
    return Redirect(ctx.url("admin.subscription", subscription_id=sub.id, done="coupon"))


def _owner(ctx: PageContext) -> tuple[str, str]:
    cid = ctx.params["customer_id"]
    ctx.admin    # noqa: B018
    if not cid.startswith("cus_"):
        raise NotFoundError("No such customer.")
    customer = ctx.billing.customers.get(stripe_id=cid)
    if customer.owner_id is None:
        raise InvalidInputError("This customer has no owner id, so it has no entitlements.", param="customer_id")
    return cid, customer.owner_id


def grant(ctx: PageContext) -> Result:
    cid, owner = _owner(ctx)
    limit = optional(ctx.form.get("limit"))
    if limit is not None and not (limit.isascii() and limit.isdigit() and len(limit) <= 15):
        raise InvalidInputError("limit must be a whole number, or empty for no limit.", param="limit")
    days = optional(ctx.form.get("days"))
    if days is not None and not (days.isascii() and days.isdigit() and 0 < int(days) <= 3650):
        raise InvalidInputError("days must be a number of days from 1 to 3650, or empty for no expiry.",
                                param="days")
    ctx.billing.entitlements.grant(owner, (ctx.form.get("feature") or "").strip(),
                                   limit=int(limit) if limit is not None else None,
                                   expires_at=ctx.billing.now() + timedelta(days=int(days)) if days else None,
                                   reason=optional(ctx.form.get("reason")) or f"granted by {ctx.admin}",
                                   actor=actor(ctx))
    return Redirect(ctx.url("admin.customer", customer_id=cid, done="granted"))


def revoke(ctx: PageContext) -> Result:
    cid, owner = _owner(ctx)
    ctx.billing.entitlements.revoke(owner, (ctx.form.get("feature") or "").strip(), actor=actor(ctx))
    return Redirect(ctx.url("admin.customer", customer_id=cid, done="revoked"))

