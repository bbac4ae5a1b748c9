"""Linkshelf on FastAPI: the same product (``example_app.domain``), the same catalog and the same instance
dir as the Flask app, with billingos mounted by ``billingos_fastapi.create_router``. Run it with::

    .venv/bin/uvicorn example_app.fastapi_app:app --port 8000

It opens ``$LINKSHELF_INSTANCE`` or the Flask app's ``./instance`` (seed that first with
``python3 dev.py example --seed-only`` to see the history here too).

The product's pages are the Flask app's; this app is its JSON side (sign-up, login, links, the metered
API, the CSV export behind ``requires_feature``) plus billingos's portal, admin and JSON API, which render
the same templates. The session is a signed cookie (Starlette's SessionMiddleware); writes that use it
must be JSON (``Content-Type: application/json``), which a cross-site form cannot send, so they need no
CSRF token; the API also takes ``Authorization: Bearer lsk_...``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from huey import MemoryHuey
from pydantic import BaseModel
from starlette.middleware.sessions import SessionMiddleware

from billingos import Billing
from billingos_fastapi import add_problem_handlers, create_router, requires_feature

from .app import DEFAULT_INSTANCE, _secret_key
from .catalog import CATALOG_PATH, sync_catalog
from .demo import emulator_billing
from .domain import Linkshelf, ProductError, connect_signals
from .models import Link, User, make_sessions

TEMPLATES = Path(__file__).with_name("templates")


class SignUpIn(BaseModel):
    name: str
    email: str
    password: str


class LoginIn(BaseModel):
    email: str
    password: str


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
                                     return_url="/"))

    @app.get("/")
    def home() -> dict[str, Any]:
        return {"product": "Linkshelf", "portal": "/billing/portal/", "admin": "/billing/admin/",
                "api": ["/api/links"], "billing_api": "/billing/api/v1/openapi.json"}

    @app.post("/signup", status_code=201)
    def signup(body: SignUpIn, request: Request) -> dict[str, Any]:
        done = shelf.sign_up(email=body.email, password=body.password, name=body.name)
        request.session.clear()
        request.session["user_id"] = done.user.id
        return {"user": _user(done.user), "trial_error": done.trial_error}

    @app.get("/login")
    def how_to_log_in() -> JSONResponse:
        """Where the portal sends visitors nobody logged in: this app's login is JSON."""
        return JSONResponse({"detail": "Log in with POST /login {\"email\": ..., \"password\": ...}, then retry."},
                            status_code=401)

    @app.post("/login")
    def login(body: LoginIn, request: Request) -> dict[str, Any]:
        user = shelf.authenticate(body.email, body.password)
        request.session.clear()
        request.session["user_id"] = user.id
        return {"user": _user(user)}

    @app.post("/logout", status_code=204)
    def logout(request: Request) -> Response:
        request.session.clear()
        return Response(status_code=204)

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

    @app.get("/app/export.csv", dependencies=[Depends(requires_feature("export"))])
    def export(user: User = Depends(logged_in)) -> PlainTextResponse:
        return PlainTextResponse(shelf.export_csv(user), media_type="text/csv",
                                 headers={"Content-Disposition": "attachment; filename=linkshelf-links.csv"})

    @app.post("/app/developers/token", status_code=201)
    def new_token(user: User = Depends(logged_in)) -> dict[str, str]:
        return {"token": shelf.new_api_token(user)}

    @app.get("/s/{slug}")
    def follow(slug: str) -> RedirectResponse:
        return RedirectResponse(shelf.follow(slug), status_code=302)

    billing.testing.connect(app)            # the emulator's webhooks through this app's own route
    sync_catalog(billing, CATALOG_PATH)
    return app


async def _product_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProductError)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse(exc.to_problem(), status_code=exc.status, media_type="application/problem+json",
                        headers=headers)


def _user(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "owner_id": user.owner_id}


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
