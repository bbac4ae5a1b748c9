"""The product's pages on Flask: each entry of ``pages.PAGES`` becomes a route that builds a ``site.Visit``
from Flask's request and turns the page's result into a Flask response. The pages themselves (and their
CSRF check, login and error pages) are ``example_app.pages`` and ``example_app.site``, shared with the
FastAPI app; the links API is ``shelf.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, redirect, request, session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from billingos.pages import SECURITY_HEADERS
from billingos_flask import requires_feature

from .csrf import SessionCsrf
from .domain import Linkshelf, ProductError
from .pages import PAGES, feature_denied
from .site import File, Page, Redirect, Render, Visit, dispatch, error, make_environment, read_form, render

ENV = "linkshelf.pages"       # app.extensions key: the pages' Jinja environment
CSRF = "linkshelf.csrf"       # app.extensions key: the app's SessionCsrf


def register_pages(app: Flask, *, demo: bool) -> None:
    """The page table's routes (the demo-only ones while Stripe is the emulator) and the error pages."""
    app.extensions[ENV] = make_environment()
    app.extensions[CSRF] = SessionCsrf(app.config["SECRET_KEY"])
    for page in PAGES:
        if page.demo and not demo:
            continue
        view = _view(page)
        if page.feature:
            view = requires_feature(page.feature)(view)
        app.add_url_rule(page.path.replace("{", "<").replace("}", ">"), endpoint=page.name, view_func=view,
                         methods=list(page.methods))
    app.register_error_handler(HTTPException, _http_error)


def _view(page: Page) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        try:
            visit = current_visit(params, form=request.method == "POST")
        except ProductError as err:        # the body: too large, or not a form
            return respond(current_visit(), error(err.status, err.message))
        return respond(visit, dispatch(page, visit))
    view.__name__ = f"page_{page.name}"
    return view


def current_visit(params: dict[str, str] | None = None, *, form: bool = False) -> Visit:
    shelf: Linkshelf = current_app.extensions["linkshelf"]
    return Visit(shelf, session._get_current_object(), current_app.extensions[CSRF],  # type: ignore[attr-defined]
                 method=request.method, path=request.full_path.rstrip("?"), params=params or {},
                 query=request.args.to_dict(), form=read_form(request.get_data(cache=False)) if form else {},
                 host_url=request.host_url, instance=Path(current_app.instance_path))


def respond(visit: Visit, result: Render | Redirect | File) -> Response:
    if isinstance(result, Redirect):
        return redirect(result.url, result.status)
    if isinstance(result, File):
        body = result.body if isinstance(result.body, bytes) else b"".join(result.body)
        return Response(body, mimetype=result.content_type.split(";")[0],
                        headers={**SECURITY_HEADERS, "Content-Disposition": f"attachment; filename={result.filename}"})
    return Response(render(current_app.extensions[ENV], visit, result), status=result.status,
                    mimetype="text/html", headers=SECURITY_HEADERS)


def on_feature_denied(feature: str, owner_id: str | None) -> Response:
    """``requires_feature``'s answer for the product's pages: the pricing page (shared with FastAPI)."""
    visit = current_visit()
    return respond(visit, feature_denied(visit, feature, owner_id))


def _http_error(exc: HTTPException) -> Any:
    """Flask's own refusals (404, 405, 413) on the product's pages as Linkshelf's error page; billingos's
    routes and the links API keep theirs."""
    if request.path.startswith(("/billing/", "/api/")) or exc.code is None:
        return exc
    return respond(current_visit(), error(exc.code, exc.description or exc.name))
