"""The APIRouter factory. Views stay a few lines: every decision lives in billingos."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from billingos import Billing, BillingError, ConfigurationError, RateLimitedError
from billingos.pages import MAX_FORM, Incoming, Outgoing, Pages, environment, mount_pages, static_file
from billingos.webhooks import MAX_BODY as MAX_WEBHOOK_BODY
from billingos.webhooks import declared_length

__all__ = ["ProblemRoute", "billing_dependency", "create_router", "problem_response"]

PROBLEM_TYPE = "application/problem+json"
NOT_FOUND = {"type": "https://billingos.dev/errors/not_found", "title": "NotFound", "status": 404,
             "detail": "No billingos route here."}
UNAUTHENTICATED = {"type": "https://billingos.dev/errors/unauthenticated", "title": "Unauthenticated",
                   "status": 401, "detail": "Log in first: the customer_loader returned no owner id."}


def problem_response(err: BillingError) -> JSONResponse:
    """An RFC 9457 problem document with the error's own status (and Retry-After when a rate limit refused it)."""
    if isinstance(err, RateLimitedError):
        return JSONResponse({**err.to_problem(), "retry_after": err.retry_after}, status_code=err.status,
                            media_type=PROBLEM_TYPE, headers={"Retry-After": str(err.retry_after)})
    return JSONResponse(err.to_problem(), status_code=err.status, media_type=PROBLEM_TYPE)


class ProblemRoute(APIRoute):
    """Turns a BillingError raised by a view or one of its dependencies into a problem document.

    A route class, not an app exception handler, so the host's own error handling stays untouched.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            from ._guards import FeatureDenied
            try:
                return await handler(request)
            except BillingError as err:
                return problem_response(err)
            except FeatureDenied as denied:
                return denied.response()

        return handle


async def _read_limited(request: Request, limit: int = MAX_WEBHOOK_BODY) -> bytes:
    """At most the webhook body limit plus one byte kept, whatever the framing: no more messages are
    received once the body is past the limit (a chunked body has no length to check first)."""
    chunks, size = [], 0
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    return b"".join(chunks)[:limit + 1]


def billing_dependency(billing: Billing) -> Callable[[], Billing]:
    """A dependency that returns ``billing``. Create it once so tests can ``dependency_overrides`` it."""

    def get_billing() -> Billing:
        return billing

    return get_billing


def _no_loader() -> str | None:
    raise ConfigurationError("This route needs the current owner: pass customer_loader= to create_router().")


def _nobody() -> None:
    return None


def create_router(billing: Billing, *, customer_loader: Callable[..., Any] | None = None,
                  admin_loader: Callable[..., Any] | None = None, prefix: str = "/billing",
                  portal_mode: str = "pages", templates: str | None = None,
                  secret_key: str | bytes | None = None, login_url: str | None = None,
                  allowed_origins: tuple[str, ...] | list[str] = (), return_url: str | None = None,
                  publishable_key: str | None = None) -> APIRouter:
    """An APIRouter with billingos's routes. ``customer_loader`` is a dependency (it may itself use
    ``Depends``) that returns the current owner id, or None when nobody is logged in.

    The portal pages (``{prefix}/portal/``, see docs/portal.md): ``portal_mode`` "pages", "stripe" (a redirect
    to Stripe's hosted portal) or "off"; ``templates``: a folder whose ``billingos/*.html`` replace
    billingos's own; ``secret_key`` signs CSRF tokens; ``login_url`` receives visitors nobody logged in.
    ``admin_loader``: a dependency returning the admin's identity or None; without it every admin page
    (``{prefix}/admin/``, see docs/admin.md) is refused."""
    router = APIRouter(prefix=prefix, route_class=ProblemRoute, tags=["billing"])
    owner_dep = Depends(customer_loader or _no_loader)
    env = environment(templates)
    pages = mount_pages(billing, prefix=prefix, render=lambda name, ctx: env.get_template(name).render(ctx),
                        portal_mode=portal_mode, secret_key=secret_key, login_url=login_url,
                        allowed_origins=allowed_origins, return_url=return_url,
                        publishable_key=publishable_key)
    _page_routes(router, pages, owner_dep, Depends(customer_loader or _nobody), Depends(admin_loader or _nobody))

    @router.get("/customer", name="billingos.customer")
    def current_customer(owner_id: str | None = owner_dep) -> Any:
        if owner_id is None:
            return JSONResponse(UNAUTHENTICATED, status_code=401, media_type=PROBLEM_TYPE)
        return billing.customers.get(owner_id=owner_id).model_dump(mode="json")

    from ._guards import ROUTER_TAG
    setattr(current_customer, ROUTER_TAG, (billing, customer_loader))   # found by requires_feature()

    @router.post("/webhooks", name="billingos.webhooks")
    async def webhooks(request: Request) -> Any:
        # per client address, before the body is read: a 429 (Stripe retries it) is a problem document
        address = request.client.host if request.client else "unknown"
        await run_in_threadpool(billing.rate_limits.check, "webhook", address)
        declared_length(request.headers.get("content-length"))
        body = await _read_limited(request)
        receipt = await run_in_threadpool(billing.webhooks.receive, body, dict(request.headers))
        return receipt.model_dump()

    # Never a redirect (Stripe counts a 3xx as a failed delivery): "/webhooks/" answers too, and any longer
    # path under it is a 404 here, before Starlette's redirect_slashes could send "/webhooks//" elsewhere.
    @router.post("/webhooks/{tail:path}", include_in_schema=False)
    async def webhooks_slash(request: Request, tail: str) -> Any:
        if tail:
            return JSONResponse(NOT_FOUND, status_code=404, media_type=PROBLEM_TYPE)
        return await webhooks(request)

    from ._api import add_api_routes
    add_api_routes(router, billing, prefix)
    return router


def _page_routes(router: APIRouter, pages: Pages, owner_dep: Any, maybe_owner: Any, admin_dep: Any) -> None:
    for route in pages.routes.values():
        endpoint = _admin_endpoint(pages, route.name, maybe_owner, admin_dep) if route.admin else \
            _page_endpoint(pages, route.name, owner_dep)
        router.add_api_route(route.path, endpoint, methods=list(route.methods), name=f"billingos.{route.name}",
                             include_in_schema=False)

    @router.get("/static/{path:path}", include_in_schema=False)
    def static(path: str) -> Response:
        found = static_file(path)
        if found is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        return Response(found[0], headers={"content-type": found[1], "cache-control": "public, max-age=3600"})

    hosted = pages.billing.emulator.hosted if pages.billing.emulator is not None else None
    if hosted is None:
        return
    if hosted.base_url is None:
        hosted.base_url = f"{pages.prefix}/stripe"      # the emulator's stand-in Stripe pages, mounted here

    @router.api_route("/stripe/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
    async def stripe_pages(request: Request, rest: str) -> Response:
        body = await _read_limited(request, MAX_FORM) if request.method == "POST" else b""
        status, headers, content = await run_in_threadpool(hosted.handle, request.method, "/" + rest,
                                                           request.url.query, body)
        return Response(content, status_code=status, headers=headers)


def _page_endpoint(pages: Pages, name: str, owner_dep: Any) -> Callable[..., Any]:
    async def page(request: Request, owner_id: Any = owner_dep) -> Response:
        return await _handle(pages, name, request, owner_id, None)

    page.__name__ = f"billingos_{name.replace('.', '_')}"
    return page


def _admin_endpoint(pages: Pages, name: str, owner_dep: Any, admin_dep: Any) -> Callable[..., Any]:
    async def page(request: Request, owner_id: Any = owner_dep, admin: Any = admin_dep) -> Response:
        return await _handle(pages, name, request, owner_id, admin)

    page.__name__ = f"billingos_{name.replace('.', '_')}"
    return page


async def _handle(pages: Pages, name: str, request: Request, owner_id: Any, admin: Any) -> Response:
    # the form is read only once the page may be shown (an admin page refuses before that, in pages.handle)
    body = await _read_limited(request, MAX_FORM) if request.method == "POST" else b""
    incoming = Incoming(method=request.method, params=dict(request.path_params), query=dict(request.query_params),
                        body=body, cookies=request.cookies, owner_id=owner_id, admin=admin,
                        secure=request.url.scheme == "https", origin=f"{request.url.scheme}://{request.url.netloc}",
                        path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                        client_address=request.client.host if request.client else None,
                        request_id=request.headers.get("x-request-id"))
    return _response(await run_in_threadpool(pages.handle, name, incoming))


def _response(out: Outgoing) -> Response:
    response: Response
    if isinstance(out.body, bytes):
        response = Response(out.body, status_code=out.status, headers=out.headers)
    else:                                     # a streamed download (Starlette iterates it in the threadpool)
        response = StreamingResponse(out.body, status_code=out.status, headers=out.headers)
    for cookie, value, options in out.cookies:
        response.set_cookie(cookie, value, **options)
    return response
