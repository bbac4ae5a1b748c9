"""Pages: home, pricing, sign-up, login, logout and the demo's one-click logins. The links pages are in
shelf.py; the plan, invoice and card pages are billingos's customer portal (/billing/portal/)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from billingos.pages import safe_return_url
from billingos_flask import current_billing

from .catalog import price_list
from .csrf import csrf_token
from .domain import Linkshelf, ProductError
from .models import User

bp = Blueprint("app", __name__)


def shelf() -> Linkshelf:
    found: Linkshelf = current_app.extensions["linkshelf"]
    return found


def login_user(user: User) -> None:
    session.clear()  # a fresh session (and CSRF token) on login: no session fixation
    session["user_id"] = user.id
    csrf_token()


@bp.get("/")
def home() -> str:
    return render_template("home.html", seeded=_seeded())


def _seeded() -> dict[str, object] | None:
    """What the first start seeded (instance/seeded.json), or None for an instance started empty."""
    import json
    from pathlib import Path
    path = Path(current_app.instance_path) / "seeded.json"
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


@bp.get("/pricing")
def pricing() -> str:
    return render_template("pricing.html", plans=price_list(current_billing))


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("signup.html", form={})
    form = {"name": request.form.get("name", ""), "email": request.form.get("email", "")}
    try:
        done = shelf().sign_up(email=form["email"], password=request.form.get("password", ""), name=form["name"])
    except ProductError as err:
        return render_template("signup.html", form=form, error=err.message, field=err.field), _page_status(err)
    login_user(done.user)
    if done.trial_error:
        flash(done.trial_error, "error")
    return redirect(url_for("shelf.links"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    nxt = safe_return_url(request.values.get("next"))     # e.g. the portal page that asked for a login
    if request.method == "GET":
        return render_template("login.html", form={}, next=nxt)
    form = {"email": request.form.get("email", "")}
    try:
        user = shelf().authenticate(form["email"], request.form.get("password", ""))
    except ProductError as err:
        return render_template("login.html", form=form, next=nxt, error=err.message), _page_status(err)
    login_user(user)
    return redirect(nxt or url_for("shelf.links"))


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("app.home"))


# --- the demo's one-click logins (emulator only): the seeded history, seen as a customer or as staff ----
@bp.post("/demo-login/<who>")
def demo_login(who: str) -> Response:
    if current_billing.emulator is None or who not in ("customer", "admin"):
        abort(404)
    user = shelf().admin_user() if who == "admin" else shelf().demo_customer()
    if user is None:
        abort(404, "No seeded customer yet: start the example without --fresh to seed one.")
    login_user(user)
    return redirect("/billing/admin/" if who == "admin" else "/billing/portal/")


def _page_status(err: ProductError) -> int:
    """Form pages answer 400 for what the visitor typed (409 and 503 keep their meaning)."""
    return err.status if err.status in (401, 409, 503) else 400


