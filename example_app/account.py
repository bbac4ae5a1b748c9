"""The plan and invoice pages. Every read and write goes through the logged-in user's own owner id;
no form names a subscription, so nobody can act on someone else's. Every change is a CSRF-checked POST."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from billingos import BillingError, ConflictError, NotFoundError
from billingos_flask import current_billing as billing

from .plans import (
    ENDED,
    TEST_CARD,
    TRIAL_DAYS,
    TRIAL_PRICE,
    attach_card,
    chosen_option,
    current_subscription,
    live_subscription,
    login_required,
    plan_name,
    plan_options,
    proration_date,
)

bp = Blueprint("account", __name__, url_prefix="/account")


def _owner() -> str:
    return str(g.user.owner_id)


def _plan_page(error: str | None = None) -> str:
    sub = current_subscription(billing, _owner())
    try:
        customer = billing.customers.get(owner_id=_owner())
    except NotFoundError:
        customer = None
    return render_template("plan.html", sub=sub, name=plan_name(billing, sub) if sub else None,
                           options=plan_options(billing, sub if sub and sub.status not in ENDED else None),
                           customer=customer, error=error)


@bp.errorhandler(BillingError)
def billing_error(err: BillingError) -> tuple[str, int]:
    """billingos wrote nothing: show why, on the plan page, with the error's status."""
    return _plan_page(error=f"Nothing was changed. {err.message}"), err.status


@bp.get("/plan")
@login_required
def plan() -> str:
    return _plan_page()


@bp.get("/plan/change")
@login_required
def preview_change() -> str:
    sub = live_subscription(billing, _owner())
    option = chosen_option(billing, sub, request.args.get("price"))
    preview = billing.subscriptions.preview_change(sub, price=option.lookup_key, proration=option.proration)
    return render_template("confirm_change.html", sub=sub, name=plan_name(billing, sub), option=option,
                           preview=preview)


@bp.post("/plan/change")
@login_required
def change_plan() -> Response:
    sub = live_subscription(billing, _owner())
    option = chosen_option(billing, sub, request.form.get("price"))
    when = proration_date(request.form.get("proration_date"), billing.now())
    if option.proration == "at_period_end":       # nothing is prorated: it applies at the renewal
        changed = billing.subscriptions.change(sub, price=option.lookup_key, proration="at_period_end")
        scheduled = changed.scheduled_change
        flash(f"Done: you move to {option.nickname} on "
              f"{scheduled.effective_at:%d %b %Y}." if scheduled else f"Done: you are now on {option.nickname}.")
        return redirect(url_for("account.plan"), 303)
    billing.subscriptions.change(sub, price=option.lookup_key, proration=option.proration, proration_date=when)
    flash(f"Done: you are now on {option.nickname}.")
    return redirect(url_for("account.plan"), 303)


@bp.post("/plan/cancel")
@login_required
def cancel() -> Response:
    sub = billing.subscriptions.cancel(live_subscription(billing, _owner()), at_period_end=True)
    flash(f"Your plan will end on {sub.cancel_at or sub.current_period_end:%d %b %Y}. Resume it any time before.")
    return redirect(url_for("account.plan"), 303)


@bp.post("/plan/resume")
@login_required
def resume() -> Response:
    billing.subscriptions.resume(live_subscription(billing, _owner()))
    flash("Your plan is back on: it renews as usual.")
    return redirect(url_for("account.plan"), 303)


@bp.post("/plan/reactivate")
@login_required
def reactivate() -> Response:
    sub = current_subscription(billing, _owner())
    if sub is None:
        raise NotFoundError("You have no earlier plan to reactivate. Start a trial instead.")
    new = billing.subscriptions.reactivate(sub)
    flash(f"Welcome back: your plan is {new.status}.")
    return redirect(url_for("account.plan"), 303)


@bp.post("/plan/trial")
@login_required
def start_trial() -> Response:
    if current_subscription(billing, _owner()) is not None:
        raise ConflictError("You already have a plan: change or reactivate it instead of starting a trial.")
    billing.subscriptions.create(_owner(), price=TRIAL_PRICE, trial_days=TRIAL_DAYS)
    flash(f"Your {TRIAL_DAYS}-day trial has started.")
    return redirect(url_for("account.plan"), 303)


@bp.post("/card")
@login_required
def add_test_card() -> Response:
    card = attach_card(billing, _owner(), TEST_CARD)
    flash(f"{card} is now your default card.")
    return redirect(url_for("account.plan"), 303)


@bp.get("/invoices")
@login_required
def invoices() -> str:
    return render_template("invoices.html", invoices=billing.invoices.list(_owner()))


@bp.get("/invoices/<invoice_id>")
@login_required
def invoice(invoice_id: str) -> str:
    try:
        found = billing.invoices.get(invoice_id, owner_id=_owner())
    except BillingError:   # another owner's invoice, a bad id, no such invoice: all the same 404
        abort(404)
    return render_template("invoice.html", invoice=found)
