"""The links API on Flask, at /api/links: each call spends one unit of the plan's quota and is metered
(``domain.Linkshelf.api_call``). It takes ``Authorization: Bearer lsk_...`` or the session cookie, whose
writes must carry the pages' CSRF token as ``X-CSRF-Token``. The HTML pages are ``views.py``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, session
from werkzeug.wrappers import Response as WerkzeugResponse

from .csrf import MESSAGE
from .domain import Linkshelf, ProductError
from .models import Link, User
from .views import CSRF

bp = Blueprint("shelf", __name__)


def shelf() -> Linkshelf:
    found: Linkshelf = current_app.extensions["linkshelf"]
    return found


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
    """The token's user, else the session's, whose writes need the CSRF header (a cross-site form could
    otherwise post with the cookie). A token request never looks at the cookie."""
    if request.headers.get("Authorization"):
        return shelf().user_for_token(request.headers.get("Authorization"))
    if g.get("user") is None:
        raise ProductError("Log in, or send 'Authorization: Bearer lsk_...'.", status=401)
    if request.method != "GET" and not current_app.extensions[CSRF].valid(session, request.headers.get("X-CSRF-Token")):
        raise ProductError(f"{MESSAGE} With the session cookie, send the page's token as X-CSRF-Token.")
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


__all__ = ["bp"]
