"""Pages: home, signup (a billing customer and a Pro trial), login, account, pricing. The plan and
invoice pages are billingos's customer portal (/billing/portal/), the demo tools in demo.py."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from billingos import BillingError, NotFoundError
from billingos.pages import safe_return_url
from billingos_flask import current_billing

from .catalog import price_list
from .csrf import csrf_token
from .gated import features_for
from .models import User
from .plans import TRIAL_DAYS, TRIAL_PRICE, current_subscription, plan_name

bp = Blueprint("app", __name__)

USERNAME = re.compile(r"^[a-z0-9_]{3,32}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _db() -> Any:
    return current_app.extensions["example_app.db"]()


def _login(user: User) -> None:
    session.clear()  # a fresh session (and CSRF token) on login: no session fixation
    session["user_id"] = user.id
    csrf_token()


@bp.get("/")
def home() -> str:
    return render_template("home.html")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("signup.html", form={})
    form = {"username": request.form.get("username", "").strip().lower(),
            "email": request.form.get("email", "").strip()}
    error = _signup_error(form)
    if error is None:
        user, error = _create_user(form)
        if user is not None:
            _login(user)
            _start_trial(user.owner_id)
            return redirect(url_for("app.account"))
    return render_template("signup.html", form=form, error=error), 400


def _signup_error(form: dict[str, str]) -> str | None:
    if not USERNAME.match(form["username"]):
        return "Choose a username of 3 to 32 lowercase letters, digits or underscores."
    if len(form["email"]) > 254 or not EMAIL.match(form["email"]):
        return "Enter an email address like you@example.com."
    with _db() as db:
        taken = db.scalars(select(User).where(or_(User.username == form["username"],
                                                  User.email == form["email"]))).first()
    if taken is not None:
        return "That username or email is already registered. Log in instead."
    return None


def _create_user(form: dict[str, str]) -> tuple[User | None, str | None]:
    """The user row first, then the billing customer; if billing fails the row goes again."""
    with _db() as db:
        user = User(username=form["username"], email=form["email"])
        db.add(user)
        try:
            db.commit()
        except IntegrityError:  # lost a race with a concurrent signup
            return None, "That username or email is already registered. Log in instead."
        try:
            current_billing.customers.create(owner_id=user.owner_id, email=user.email, name=user.username)
        except BillingError as err:
            db.delete(user)
            db.commit()
            return None, f"Billing could not set up your account: {err.message}"
    return user, None


def _start_trial(owner_id: str) -> None:
    """A 14-day Pro trial, no card needed. If it fails the account stays; the plan page offers it again."""
    try:
        current_billing.subscriptions.create(owner_id, price=TRIAL_PRICE, trial_days=TRIAL_DAYS)
    except BillingError as err:
        flash(f"Your account is ready, but the trial could not start: {err.message} "
              "Start it from the plan page.", "error")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    nxt = safe_return_url(request.values.get("next"))     # e.g. the portal page that asked for a login
    if request.method == "GET":
        return render_template("login.html", form={}, next=nxt)
    form = {"username": request.form.get("username", "").strip().lower(),
            "email": request.form.get("email", "").strip()}
    with _db() as db:
        user = db.scalars(select(User).where(User.username == form["username"],
                                             User.email == form["email"])).first()
    if user is None:
        return render_template("login.html", form=form, next=nxt,
                               error="No account with that username and email."), 400
    _login(user)
    return redirect(nxt or url_for("app.account"))


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("app.home"))


@bp.get("/account")
def account() -> str | Response:
    if g.user is None:
        return redirect(url_for("app.login"))
    try:
        customer = current_billing.customers.get(owner_id=g.user.owner_id)
    except NotFoundError:
        customer = None
    sub = current_subscription(current_billing, g.user.owner_id)
    return render_template("account.html", customer=customer, sub=sub,
                           plan=plan_name(current_billing, sub) if sub else None,
                           features=features_for(g.user.owner_id))


@bp.get("/pricing")
def pricing() -> str:
    return render_template("pricing.html", plans=price_list(current_billing))

