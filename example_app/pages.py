"""Linkshelf's HTML pages, written once for the Flask and the FastAPI app: home, pricing, sign-up, login,
logout, the demo's one-click logins, the links dashboard, the CSV export, the public short links, the
developer page (the Linkshelf API token and a key for billingos's JSON API) and the Demo tools.

Each page is a function of a ``site.Visit`` returning ``Render`` / ``Redirect`` / ``File``; ``PAGES`` is the
table both apps register (``site.dispatch`` adds the CSRF check, the login and the error pages). The plan,
invoice and card pages are billingos's customer portal (/billing/portal/), mounted by the adapters.
"""

from __future__ import annotations

import json

from billingos import BillingError
from billingos.pages import safe_return_url

from .catalog import price_list
from .domain import DEMO_PASSWORD, ProductError
from .plans import attach_card
from .site import File, Page, Redirect, Render, Visit, url

__all__ = ["ADVANCE_DAYS", "FAILING_CARD", "LIBRARY_KEY_SCOPES", "PAGES", "feature_denied"]

LIBRARY_KEY_SCOPES = ("entitlements:read", "billing:read")
ADVANCE_DAYS = {1: "1 day", 7: "1 week", 31: "1 month"}
FAILING_CARD = "pm_card_chargeCustomerFail"   # attaches fine, then every charge is declined


# --- public pages and accounts ------------------------------------------------------------------------
def home(visit: Visit) -> Render:
    return Render("home.html", {"seeded": _seeded(visit), "demo_password": DEMO_PASSWORD})


def _seeded(visit: Visit) -> dict[str, object] | None:
    """What the first start seeded (instance/seeded.json), or None for an instance started empty."""
    if visit.instance is None:
        return None
    try:
        found = json.loads((visit.instance / "seeded.json").read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def pricing(visit: Visit) -> Render:
    return Render("pricing.html", {"plans": price_list(visit.billing)})


def signup(visit: Visit) -> Render | Redirect:
    if visit.method == "GET":
        return Render("signup.html", {"form": {}})
    form = {"name": visit.form.get("name", ""), "email": visit.form.get("email", "")}
    try:
        done = visit.shelf.sign_up(email=form["email"], password=visit.form.get("password", ""), name=form["name"])
    except ProductError as err:
        return Render("signup.html", {"form": form, "error": err.message, "field": err.field}, _form_status(err))
    visit.log_in(done.user)
    if done.trial_error:
        visit.flash(done.trial_error, "error")
    return Redirect(url("links"), 302)


def login(visit: Visit) -> Render | Redirect:
    nxt = safe_return_url(visit.form.get("next") or visit.query.get("next"))   # e.g. the portal page that sent us
    if visit.method == "GET":
        return Render("login.html", {"form": {}, "next": nxt})
    form = {"email": visit.form.get("email", "")}
    try:
        user = visit.shelf.authenticate(form["email"], visit.form.get("password", ""))
    except ProductError as err:
        return Render("login.html", {"form": form, "next": nxt, "error": err.message}, _form_status(err))
    visit.log_in(user)
    return Redirect(nxt or url("links"), 302)


def logout(visit: Visit) -> Redirect:
    visit.log_out()
    return Redirect(url("home"), 302)


def demo_login(visit: Visit) -> Redirect:
    """The demo's one-click logins: the seeded history seen as a customer or as Linkshelf's staff."""
    who = visit.params.get("who")
    if who not in ("customer", "admin"):
        raise ProductError("No such demo login.", status=404)
    user = visit.shelf.admin_user() if who == "admin" else visit.shelf.demo_customer()
    if user is None:
        raise ProductError("No seeded customer yet: start the example without --fresh to seed one.", status=404)
    visit.log_in(user)
    return Redirect("/billing/admin/" if who == "admin" else "/billing/portal/", 302)


def _form_status(err: ProductError) -> int:
    """Form pages answer 400 for what the visitor typed (401, 409 and 503 keep their meaning)."""
    return err.status if err.status in (401, 409, 503) else 400


# --- the shelf -----------------------------------------------------------------------------------------
def links(visit: Visit) -> Render:
    return _links_page(visit)


def _links_page(visit: Visit, form: dict[str, str] | None = None, err: ProductError | None = None) -> Render:
    assert visit.user is not None
    data = {"links": visit.shelf.links(visit.user), "overview": visit.shelf.overview(visit.user),
            "form": form or {}, "error": err.message if err else None, "field": err.field if err else None}
    return Render("links.html", data, 200 if err is None else err.status if err.status in (403, 409) else 400)


def add_link(visit: Visit) -> Render | Redirect:
    assert visit.user is not None
    form = {k: visit.form.get(k, "") for k in ("url", "title", "note", "slug")}
    try:
        link = visit.shelf.add_link(visit.user, url=form["url"], title=form["title"], note=form["note"],
                                    slug=form["slug"])
    except ProductError as err:
        return _links_page(visit, form, err)
    visit.flash(f"Saved: {visit.host_url}s/{link.slug}")
    return Redirect(url("links"), 303)


def delete_link(visit: Visit) -> Redirect:
    """Another user's link, a missing one and a malformed id are all "not found"."""
    assert visit.user is not None
    raw = visit.params.get("link_id", "")
    link_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 19 else 0
    visit.shelf.delete_link(visit.user, link_id)
    visit.flash("Link deleted.")
    return Redirect(url("links"), 303)


def export(visit: Visit) -> File:
    """The CSV export: the adapters gate it with ``requires_feature("export")`` before it runs."""
    assert visit.user is not None
    return File(visit.shelf.export_csv(visit.user).encode("utf-8"), "text/csv; charset=utf-8",
                "linkshelf-links.csv")


def follow(visit: Visit) -> Redirect:
    return Redirect(visit.shelf.follow(visit.params.get("slug")), 302)


# --- the developer page: two kinds of keys ------------------------------------------------------------
def developers(visit: Visit) -> Render:
    return _developers_page(visit)


def _developers_page(visit: Visit, token: str | None = None, library_key: str | None = None,
                     error: str | None = None) -> Render:
    assert visit.user is not None
    keys = visit.billing.api_keys.list(owner_id=visit.user.owner_id)
    return Render("developers.html", {"token": token, "library_key": library_key, "keys": keys, "error": error,
                                      "overview": visit.shelf.overview(visit.user)}, 400 if error else 200)


def new_token(visit: Visit) -> Render:
    assert visit.user is not None
    token = visit.shelf.new_api_token(visit.user)
    visit.__dict__["user"] = visit.shelf.user(visit.user.id)      # the page says "Replace" from now on
    return _developers_page(visit, token=token)


def new_billing_key(visit: Visit) -> Render:
    """A key for billingos's JSON API (/billing/api/v1/) that acts for this customer only."""
    assert visit.user is not None
    name = visit.form.get("name", "").strip() or "My billing key"
    try:
        created = visit.billing.api_keys.create(name, LIBRARY_KEY_SCOPES, owner_id=visit.user.owner_id)
    except BillingError as err:
        return _developers_page(visit, error=err.message)
    return _developers_page(visit, library_key=created.secret)


# --- the Demo tools (emulator only): move the demo clock, swap in a failing card ------------------------
def demo_tools(visit: Visit) -> Render:
    return Render("demo.html", {"now": visit.billing.now(), "days": ADVANCE_DAYS})


def demo_advance(visit: Visit) -> Render | Redirect:
    days = visit.form.get("days", "")
    if not (days.isascii() and days.isdigit() and len(days) < 4) or int(days) not in ADVANCE_DAYS:
        error = f"Pick one of the buttons: advance by {', '.join(ADVANCE_DAYS.values())}."
        return Render("demo.html", {"now": visit.billing.now(), "days": ADVANCE_DAYS, "error": error}, 400)
    now = visit.billing.testing.advance(days=int(days))
    visit.flash(f"Time moved {ADVANCE_DAYS[int(days)]} forward: it is now {now:%d %b %Y, %H:%M} UTC.")
    return Redirect(url("demo"), 303)


def demo_failing_card(visit: Visit) -> Redirect:
    assert visit.user is not None
    card = attach_card(visit.billing, visit.user.owner_id, FAILING_CARD)
    visit.flash(f"Your default card is now {card}, which Stripe declines: the next charge fails and dunning starts.")
    return Redirect(url("demo"), 303)


GET, POST, BOTH = ("GET",), ("POST",), ("GET", "POST")

PAGES = (
    Page("home", GET, home), Page("pricing", GET, pricing), Page("signup", BOTH, signup),
    Page("login", BOTH, login), Page("logout", POST, logout), Page("demo_login", POST, demo_login, demo=True),
    Page("links", GET, links, login=True), Page("add_link", POST, add_link, login=True),
    Page("delete_link", POST, delete_link, login=True), Page("export", GET, export, login=True, feature="export"),
    Page("follow", GET, follow),
    Page("developers", GET, developers, login=True), Page("new_token", POST, new_token, login=True),
    Page("new_billing_key", POST, new_billing_key, login=True),
    Page("demo", GET, demo_tools, login=True, demo=True),
    Page("demo_advance", POST, demo_advance, login=True, demo=True),
    Page("demo_failing_card", POST, demo_failing_card, login=True, demo=True),
)


def feature_denied(visit: Visit, feature: str, owner_id: str | None) -> Redirect:
    """What both apps' ``requires_feature`` answers when the plan lacks ``feature``: the pricing page."""
    if owner_id is None:
        return Redirect(url("login"), 302)
    visit.flash(f"Your plan does not include {feature.replace('_', ' ')}. Pick a plan that does.", "error")
    return Redirect(url("pricing"), 302)
