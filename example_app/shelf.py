"""The product's pages and API on Flask: the links dashboard, the CSV export (``@requires_feature``), the
developer page (the Linkshelf API token, and a key for billingos's JSON API), the public short links,
and the links API at /api/links, where each call spends one unit of the plan's quota and is metered."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from billingos import BillingError
from billingos_flask import current_billing, requires_feature

from .domain import Linkshelf, ProductError
from .models import Link, User
from .plans import login_required
from .views import shelf

bp = Blueprint("shelf", __name__)
LIBRARY_KEY_SCOPES = ("entitlements:read", "billing:read")


@bp.get("/app")
@login_required
def links() -> str:
    return _links_page()


def _links_page(form: dict[str, str] | None = None, error: str | None = None, field: str | None = None) -> str:
    return render_template("links.html", links=shelf().links(g.user), overview=shelf().overview(g.user),
                           form=form or {}, error=error, field=field)


@bp.post("/app/links")
@login_required
def add_link() -> str | WerkzeugResponse | tuple[str, int]:
    form = {k: request.form.get(k, "") for k in ("url", "title", "note", "slug")}
    try:
        link = shelf().add_link(g.user, url=form["url"], title=form["title"], note=form["note"], slug=form["slug"])
    except ProductError as err:
        return _links_page(form, err.message, err.field), err.status if err.status in (403, 409) else 400
    flash(f"Saved: {request.host_url}s/{link.slug}")
    return redirect(url_for("shelf.links"), 303)


@bp.post("/app/links/<int:link_id>/delete")
@login_required
def delete_link(link_id: int) -> WerkzeugResponse:
    try:
        shelf().delete_link(g.user, link_id)
    except ProductError as err:
        return Response(err.message, status=err.status, mimetype="text/plain")
    flash("Link deleted.")
    return redirect(url_for("shelf.links"), 303)


@bp.get("/app/export.csv")
@login_required
@requires_feature("export")
def export() -> Response:
    return Response(shelf().export_csv(g.user), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=linkshelf-links.csv"})


@bp.get("/s/<slug>")
def follow(slug: str) -> WerkzeugResponse:
    try:
        return redirect(shelf().follow(slug), 302)
    except ProductError as err:
        return Response(err.message, status=404, mimetype="text/plain")


# --- the developer page: two kinds of keys ----------------------------------------------------------
@bp.get("/app/developers")
@login_required
def developers() -> str:
    return _developers_page()


def _developers_page(token: str | None = None, library_key: str | None = None, error: str | None = None) -> str:
    keys = current_billing.api_keys.list(owner_id=g.user.owner_id)
    return render_template("developers.html", token=token, library_key=library_key, keys=keys, error=error,
                           overview=shelf().overview(g.user))


@bp.post("/app/developers/token")
@login_required
def new_token() -> str:
    return _developers_page(token=shelf().new_api_token(g.user))


@bp.post("/app/developers/billing-key")
@login_required
def new_billing_key() -> str | tuple[str, int]:
    """A key for billingos's JSON API (/billing/api/v1/) that acts for this customer only."""
    name = request.form.get("name", "").strip() or "My billing key"
    try:
        created = current_billing.api_keys.create(name, LIBRARY_KEY_SCOPES, owner_id=g.user.owner_id)
    except BillingError as err:
        return _developers_page(error=err.message), 400
    return _developers_page(library_key=created.secret)


# --- the links API: session cookie or "Authorization: Bearer lsk_..." ---------------------------------
@bp.route("/api/links", methods=["GET", "POST"])
def api_links() -> WerkzeugResponse | tuple[Any, int]:
    try:
        user = _api_user()
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise ProductError("Send a JSON object: {\"url\": \"https://...\", \"title\": \"...\"}.")
            link = shelf().add_link(user, url=body.get("url"), title=body.get("title"), note=body.get("note"),
                                    slug=body.get("slug"), metered=key)
            return _json({"link": _link(link)}, 201)
        quota = shelf().api_call(user, key)
        return _json({"links": [_link(link) for link in shelf().links(user)], "quota": quota.__dict__})
    except ProductError as err:
        return _problem(err)


@bp.delete("/api/links/<int:link_id>")
def api_delete(link_id: int) -> WerkzeugResponse | tuple[Any, int]:
    try:
        user = _api_user()
        shelf().api_call(user, request.headers.get("Idempotency-Key"))
        shelf().delete_link(user, link_id)
    except ProductError as err:
        return _problem(err)
    return Response(status=204)


def _api_user() -> User:
    if request.headers.get("Authorization"):
        return shelf().user_for_token(request.headers.get("Authorization"))
    if g.get("user") is None:
        raise ProductError("Log in, or send 'Authorization: Bearer lsk_...'.", status=401)
    user: User = g.user
    return user


def _link(link: Link) -> dict[str, Any]:
    return {"id": link.id, "slug": link.slug, "url": link.url, "title": link.title, "note": link.note,
            "clicks": link.clicks, "created_at": link.created_at.isoformat()}


def _json(body: dict[str, Any], status: int = 200) -> tuple[WerkzeugResponse, int]:
    return jsonify(body), status


def _problem(err: ProductError) -> tuple[WerkzeugResponse, int]:
    response = jsonify(err.to_problem())
    response.mimetype = "application/problem+json"
    if err.retry_after is not None:
        response.headers["Retry-After"] = str(err.retry_after)
    return response, err.status


__all__ = ["Linkshelf", "bp"]
