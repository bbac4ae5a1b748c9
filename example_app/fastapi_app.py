"""Linkshelf on FastAPI: the same product (``example_app.domain``), the same catalog and the same instance
dir as the Flask app, with billingos mounted by ``billingos_fastapi.create_router``. Run it with::

    .venv/bin/uvicorn example_app.fastapi_app:app --port 8000

It opens ``$LINKSHELF_INSTANCE`` or the Flask app's ``./instance`` (seed that first with
``python3 dev.py example --seed-only`` to see the history here too).

The HTML pages are the Flask app's: the same page functions (``example_app.pages``, registered from its
``PAGES`` table) rendering the same templates, with the same CSRF tokens on every form
(``example_app.csrf``) kept in the signed session cookie (Starlette's SessionMiddleware). The CSV export is
gated with ``Depends(requires_feature("export"))``; its ``FeatureDenied`` goes to the pricing page, as on
Flask. The links API (``/api/links``) takes ``Authorization: Bearer lsk_...`` or the session cookie, whose
writes must be JSON (``Content-Type: application/json``, which a cross-site form cannot send).
billingos's portal, admin and JSON API are mounted under /billing by ``create_router``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from huey import MemoryHuey
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from billingos import Billing
from billingos.pages import SECURITY_HEADERS
from billingos_fastapi import FeatureDenied, add_problem_handlers, create_router, requires_feature

from .app import DEFAULT_INSTANCE, _secret_key
from .catalog import CATALOG_PATH, sync_catalog
from .csrf import SessionCsrf
from .demo import emulator_billing
from .domain import Linkshelf, ProductError, connect_signals
from .models import Link, User, make_sessions
from .pages import PAGES, feature_denied
from .site import MAX_FORM, TEMPLATES, File, Page, Redirect, Render, Visit, dispatch, error, make_environment, read_form
from .site import render as render_page

STATIC = Path(__file__).with_name("static")


class LinkIn(BaseModel):
    url: str
    title: str | None = None
    note: str | None = None
    slug: str | None = None


def create_app(instance: str | Path | None = None) -> FastAPI:
    """The FastAPI app on ``instance`` (default: the Flask app's instance dir, so both see the same data)."""
    folder = Path(instance or DEFAULT_INSTANCE).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    billing = emulator_billing(folder, {})
    billing.migrate()
    shelf = Linkshelf(make_sessions(f"sqlite:///{folder / 'example.db'}"), billing)
    connect_signals(billing)
    huey = MemoryHuey("linkshelf-fastapi", immediate=True)     # production: RedisHuey + a huey_consumer process
    billing.register_tasks(huey)
    secret = _secret_key(folder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        billing.close()

    app = FastAPI(title="Linkshelf", lifespan=lifespan)
    app.state.shelf, app.state.billing, app.state.huey = shelf, billing, huey
    app.add_middleware(SessionMiddleware, secret_key=secret, same_site="lax", https_only=False)
    add_problem_handlers(app)
    app.add_exception_handler(ProductError, _product_error)

    def current_user(request: Request) -> User | None:
        return shelf.user(request.session.get("user_id"))

    def current_owner(request: Request) -> str | None:
        user = current_user(request)
        return user.owner_id if user is not None else None

    def current_admin(request: Request) -> str | None:
        user = current_user(request)
        return user.email if user is not None and user.is_admin else None

    def logged_in(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise ProductError("Log in first.", status=401)
        return user

    def api_user(request: Request, authorization: str | None = Header(default=None)) -> User:
        return shelf.user_for_token(authorization) if authorization else logged_in(request)

    app.include_router(create_router(billing, customer_loader=current_owner, admin_loader=current_admin,
                                     templates=str(TEMPLATES), secret_key=secret, login_url="/login",
                                     return_url="/app"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_pages(app, _Translator(shelf, SessionCsrf(secret), make_environment(), folder))

    @app.get("/api/links")
    def list_links(user: User = Depends(api_user),
                   idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        quota = shelf.api_call(user, idempotency_key)
        return {"links": [_link(link) for link in shelf.links(user)], "quota": quota.__dict__}

    @app.post("/api/links", status_code=201)
    def add_link(body: LinkIn, user: User = Depends(api_user),
                 idempotency_key: str | None = Header(default=None)) -> dict[str, Any]:
        link = shelf.add_link(user, url=body.url, title=body.title, note=body.note, slug=body.slug,
                              metered=idempotency_key)
        return {"link": _link(link)}

    @app.delete("/api/links/{link_id}", status_code=204)
    def delete_link(link_id: int, user: User = Depends(api_user),
                    idempotency_key: str | None = Header(default=None)) -> Response:
        shelf.api_call(user, idempotency_key)
        shelf.delete_link(user, link_id)
        return Response(status_code=204)

    billing.testing.connect(app)            # the emulator's webhooks through this app's own route
    sync_catalog(billing, CATALOG_PATH)
    return app


class _Translator:
    """Starlette's request in, a ``site.Visit`` to the shared pages, their result out as a response."""

    def __init__(self, shelf: Linkshelf, csrf: SessionCsrf, env: Any, instance: Path) -> None:
        self.shelf, self.csrf, self.env, self.instance = shelf, csrf, env, instance

    def visit(self, request: Request, body: bytes | None = None, params: dict[str, str] | None = None) -> Visit:
        query = request.url.query
        return Visit(self.shelf, request.session, self.csrf, method=request.method,
                     path=request.url.path + (f"?{query}" if query else ""), params=params or {},
                     query=dict(request.query_params), form=read_form(body) if body is not None else {},
                     host_url=str(request.base_url), instance=self.instance)

    def answer(self, page: Page, request: Request, body: bytes | None) -> Response:
        """Runs in the threadpool: the pages and the domain are synchronous (SQLAlchemy, the Stripe SDK)."""
        try:
            visit = self.visit(request, body, dict(request.path_params))
        except ProductError as err:          # the body: too large, or not a form
            return self.respond(self.visit(request), error(err.status, err.message))
        return self.respond(visit, dispatch(page, visit))

    def respond(self, visit: Visit, result: Render | Redirect | File) -> Response:
        if isinstance(result, Redirect):
            return RedirectResponse(result.url, status_code=result.status)
        if isinstance(result, File):
            body = result.body if isinstance(result.body, bytes) else b"".join(result.body)
            return Response(body, media_type=result.content_type, headers={
                **SECURITY_HEADERS, "Content-Disposition": f"attachment; filename={result.filename}"})
        return HTMLResponse(render_page(self.env, visit, result), status_code=result.status,
                            headers=SECURITY_HEADERS)


def _add_pages(app: FastAPI, pages: _Translator) -> None:
    """The page table's routes (the demo-only ones while Stripe is the emulator), the export's
    FeatureDenied as the pricing page, and FastAPI's own refusals (404, 405) as the product's error page."""
    for page in PAGES:
        if page.demo and pages.shelf.billing.emulator is None:
            continue
        gate = [Depends(requires_feature(page.feature))] if page.feature else []
        app.add_api_route(page.path, _endpoint(pages, page), methods=list(page.methods), dependencies=gate,
                          name=page.name, include_in_schema=False)

    async def on_feature_denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FeatureDenied)
        visit = pages.visit(request)
        return pages.respond(visit, await run_in_threadpool(feature_denied, visit, exc.feature, exc.owner_id))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith(("/billing/", "/api/")):
            return await http_exception_handler(request, exc)     # billingos's routes and the API keep theirs
        message = "This page does not exist." if exc.status_code == 404 else str(exc.detail)
        return await run_in_threadpool(pages.respond, pages.visit(request), error(exc.status_code, message))

    app.add_exception_handler(FeatureDenied, on_feature_denied)
    app.add_exception_handler(HTTPException, on_http_error)


def _endpoint(pages: _Translator, page: Page) -> Any:
    async def endpoint(request: Request) -> Response:
        body = await _read_form_body(request) if request.method == "POST" else None
        return await run_in_threadpool(pages.answer, page, request, body)
    endpoint.__name__ = f"page_{page.name}"
    return endpoint


async def _read_form_body(request: Request) -> bytes:
    """At most MAX_FORM + 1 bytes: enough for ``read_form`` to refuse a larger body with a 413 page."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            break
    return body


async def _product_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProductError)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse(exc.to_problem(), status_code=exc.status, media_type="application/problem+json",
                        headers=headers)


def _link(link: Link) -> dict[str, Any]:
    return {"id": link.id, "slug": link.slug, "url": link.url, "title": link.title, "note": link.note,
            "clicks": link.clicks, "created_at": link.created_at.isoformat()}


def __getattr__(name: str) -> Any:
    """``uvicorn example_app.fastapi_app:app`` builds the app on first use, not at import."""
    if name == "app":
        built = globals().get("_app")
        if built is None:
            built = globals()["_app"] = create_app(os.environ.get("LINKSHELF_INSTANCE") or None)
        return built
    raise AttributeError(name)


__all__ = ["Billing", "create_app"]
