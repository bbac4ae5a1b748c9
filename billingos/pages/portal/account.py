"""Overview, plans (preview, confirm, promotion code), cancel with the reason survey, resume."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import BillingError, ConflictError, InvalidInputError
from ...subscriptions.feedback import FEEDBACK
from ..results import Redirect, Render, Result
from ..safety import preview_stamp
from .state import (
    ENDED,
    PlanOption,
    chosen,
    current_subscription,
    customer_or_none,
    live_subscription,
    plan_options,
    status_words,
)

if TYPE_CHECKING:
    from ...subscriptions.schemas import Proration
    from ..core import PageContext

NOTICES = {"changed": "Your plan was changed.", "scheduled": "Your plan changes at the end of this period.",
           "canceled": "Your subscription was canceled.", "cancels": "Your subscription will cancel at the end of "
           "this period.", "resumed": "Your subscription continues. Welcome back!", "started": "Your plan started.",
           "card_added": "Your card was saved.", "card_removed": "The card was removed.",
           "default_set": "That card is now your default.", "alerts": "Your usage alerts were saved.",
           "kept": "The scheduled change was canceled: your plan stays as it is."}


def notice(ctx: PageContext) -> str | None:
    return NOTICES.get(ctx.query.get("done", ""))


def overview(ctx: PageContext) -> Result:
    owner, billing = ctx.owner_id, ctx.billing
    account = billing.subscriptions.account(owner)      # two statements: the page is read on every visit
    sub = account.subscription
    return Render("portal/overview.html", {
        "title": "Billing", "nav": "overview", "notice": notice(ctx), "customer": account.customer,
        "subscription": sub, "plan": account.plan or ("No plan" if sub is None else "Your plan"),
        "status": status_words(sub, ctx.pages.fmt, billing.now()), "ended": sub is None or sub.status in ENDED,
        "upcoming": account.upcoming, "card": account.card, "return_url": ctx.options.get("return_url"),
        "past_due": billing.dunning.past_due(owner) if sub is not None and sub.status == "past_due" else None})


def plans(ctx: PageContext) -> Result:
    owner = ctx.owner_id
    sub = current_subscription(ctx.billing.subscriptions.list(owner))
    options = plan_options(ctx.billing, sub, ctx.pages.fmt)
    return Render("portal/plans.html", {"title": "Plans", "nav": "plans", "subscription": sub, "options": options,
                                        "ended": sub is None or sub.status in ENDED, "notice": notice(ctx),
                                        "scheduled": _scheduled(sub, options)})


def keep_plan(ctx: PageContext) -> Result:
    """Drop the plan change scheduled for the period end (audited, as the owner)."""
    sub = live_subscription(ctx.billing, ctx.owner_id)
    if sub.scheduled_change is None:
        return Redirect(ctx.url("portal.plans"))       # already gone (a double click): nothing to do
    ctx.billing.subscriptions.cancel_scheduled_change(sub, actor=ctx.actor())
    return Redirect(ctx.url("portal.plans", done="kept"))


def _scheduled(sub: Any, options: list[PlanOption]) -> dict[str, Any] | None:
    """The pending period-end change in words: the plan's name, the seats, the date."""
    change = getattr(sub, "scheduled_change", None) if sub is not None and sub.status not in ENDED else None
    if change is None:
        return None
    option = next((o for o in options if o.price in (change.lookup_key, change.price)), None)
    return {"name": option.name if option else "another plan", "per": option.per if option else "",
            "seats": change.quantity if option is not None and option.seats else None, "at": change.effective_at}


def preview(ctx: PageContext) -> Result:
    """What a change costs: due now and on the next invoice (Stripe's own preview), then confirm."""
    owner, billing = ctx.owner_id, ctx.billing
    sub = current_subscription(billing.subscriptions.list(owner))
    options = plan_options(billing, sub, ctx.pages.fmt)
    data: dict[str, Any] = {"title": "Review your change", "nav": "plans", "subscription": sub}
    try:
        option = chosen(options, ctx.query.get("price"), ctx.query.get("quantity"), sub)
        code = _promotion_code(ctx, ctx.query.get("code"))
    except InvalidInputError as err:
        return Render("portal/plans.html", {**data, "title": "Plans", "options": options, "error": str(err),
                                            "ended": sub is None or sub.status in ENDED}, 400)
    if sub is None or sub.status in ENDED:
        return Render("portal/confirm.html", {**data, "option": option, "preview": None, "new": True,
                                              "code": code, "stamp": None, "total": option.total()})
    proration = _proration(option, sub, billing)
    if code is not None and proration == "at_period_end":
        return Render("portal/plans.html", {**data, "title": "Plans", "options": options, "ended": False,
                                            "error": "Promotion codes apply to upgrades, which start now. This "
                                                     "change starts at the end of your period."}, 400)
    result = billing.subscriptions.preview_change(sub, price=option.price, quantity=_quantity(option, options),
                                                  proration=proration, promotion_code=code["id"] if code else None)
    # What the customer pays when: an upgrade's invoice now; otherwise the previewed next invoice later.
    now_invoice = result.invoiced_now
    next_date = result.invoiced_at or (sub.trial_end if sub.status == "trialing" else sub.current_period_end)
    return Render("portal/confirm.html", {**data, "option": option, "preview": result, "new": False,
                                          "code": code, "stamp": result.proration_date,
                                          "later": proration == "at_period_end", "due_now": result.amount_due_now,
                                          "next_amount": None if now_invoice else result.amount_due,
                                          "next_date": None if now_invoice else next_date})


def change(ctx: PageContext) -> Result:
    owner, billing = ctx.owner_id, ctx.billing
    subs = billing.subscriptions.list(owner)
    sub = current_subscription(subs)
    options = plan_options(billing, sub, ctx.pages.fmt)
    option = chosen(options, ctx.form.get("price"), ctx.form.get("quantity"), sub)
    code = _promotion_code(ctx, ctx.form.get("code"))
    if sub is None or sub.status in ENDED:       # a new customer, or a canceled one choosing any plan
        customer = customer_or_none(billing, owner)
        if customer is None:
            raise ConflictError("Your billing account is not set up yet. Please contact support.")
        if customer.default_payment_method is None:
            return Redirect(ctx.url("portal.cards", next=ctx.url("portal.plans")))
        billing.subscriptions.create(customer, price=option.price, quantity=option.quantity,
                                     promotion_code=code["id"] if code else None,
                                     payment_behavior="error_if_incomplete", actor=ctx.actor())
        return Redirect(ctx.url("portal.overview", done="started"))
    proration = _proration(option, sub, billing)
    stamp = preview_stamp(ctx.form.get("stamp"), billing.now()) if proration != "at_period_end" else None
    billing.subscriptions.change(sub, price=option.price, quantity=_quantity(option, options), proration=proration,
                                 proration_date=stamp, promotion_code=code["id"] if code else None,
                                 actor=ctx.actor())
    return Redirect(ctx.url("portal.overview", done="scheduled" if proration == "at_period_end" else "changed"))


def cancel_form(ctx: PageContext) -> Result:
    sub = live_subscription(ctx.billing, ctx.owner_id)
    return Render("portal/cancel.html", {"title": "Cancel your plan", "nav": "overview", "subscription": sub,
                                         "reasons": FEEDBACK})


def cancel(ctx: PageContext) -> Result:
    sub = live_subscription(ctx.billing, ctx.owner_id)
    when = ctx.form.get("when", "period_end")
    if when not in ("now", "period_end"):
        raise InvalidInputError("Choose when to cancel: now or at the end of the period.", param="when")
    feedback = ctx.form.get("feedback") or None
    comment = (ctx.form.get("comment") or "").strip() or None
    try:
        ctx.billing.subscriptions.cancel(sub, at_period_end=when == "period_end", feedback=feedback,
                                         comment=comment, actor=ctx.actor())
    except InvalidInputError as err:
        return Render("portal/cancel.html", {"title": "Cancel your plan", "nav": "overview", "subscription": sub,
                                             "reasons": FEEDBACK, "error": str(err)}, 400)
    return Redirect(ctx.url("portal.overview", done="cancels" if when == "period_end" else "canceled"))


def resume(ctx: PageContext) -> Result:
    sub = live_subscription(ctx.billing, ctx.owner_id)
    ctx.billing.subscriptions.resume(sub, actor=ctx.actor())
    return Redirect(ctx.url("portal.overview", done="resumed"))


def _proration(option: PlanOption, sub: Any, billing: Any) -> Proration:
    """Stripe-correct timing: upgrades and interval changes now (charged now), downgrades at the period end;
    during a trial every change applies now (nothing is charged until the trial ends)."""
    if sub.status == "trialing":
        return "none"
    if option.action in ("Downgrade", "Remove seats"):
        return "at_period_end"
    return "always_invoice"


def _quantity(option: PlanOption, options: list[PlanOption]) -> int | None:
    """The seats to send: the chosen ones on a seat plan; back to one when leaving a seat plan; else
    unchanged (None)."""
    if option.seats:
        return option.quantity
    return 1 if any(o.action == "Current" and o.seats for o in options) else None


def _promotion_code(ctx: PageContext, code: str | None) -> dict[str, Any] | None:
    """The active Stripe promotion code the customer typed, or None; InvalidInputError with a clear message."""
    code = (code or "").strip()
    if not code:
        return None
    if len(code) > 64 or not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInputError("That promotion code is not valid. Check it and try again.", param="code")
    try:
        found = ctx.billing.stripe.v1.promotion_codes.list(params={"code": code, "active": True, "limit": 1})
    except Exception as e:   # the SDK's errors: Stripe down or refusing
        raise BillingError("The promotion code could not be checked right now. Try again in a minute.") from e
    if not found.data:
        raise InvalidInputError(f"The promotion code {code} is not valid or has expired.", param="code")
    promo = found.data[0]
    return {"id": promo.id, "code": promo.code}

