"""The APIRouter factory. Views stay a few lines: every decision lives in billingos."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from billingos import Billing, BillingError, ConfigurationError
from billingos.webhooks import MAX_BODY as MAX_WEBHOOK_BODY
from billingos.webhooks import WebhookPayloadError

__all__ = ["ProblemRoute", "billing_dependency", "create_router", "problem_response"]

PROBLEM_TYPE = "application/problem+json"
UNAUTHENTICATED = {"type": "https://billingos.dev/errors/unauthenticated", "title": "Unauthenticated",
                   "status": 401, "detail": "Log in first: the customer_loader returned no owner id."}


def problem_response(err: BillingError) -> JSONResponse:
    """An RFC 9457 problem document with the error's own status."""
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


def billing_dependency(billing: Billing) -> Callable[[], Billing]:
    """A dependency that returns ``billing``. Create it once so tests can ``dependency_overrides`` it."""

    def get_billing() -> Billing:
        return billing

    return get_billing


def _no_loader() -> str | None:
    raise ConfigurationError("This route needs the current owner: pass customer_loader= to create_router().")


def create_router(billing: Billing, *, customer_loader: Callable[..., Any] | None = None,
                  prefix: str = "/billing") -> APIRouter:
    """An APIRouter with billingos's routes. ``customer_loader`` is a dependency (it may itself use
    ``Depends``) that returns the current owner id, or None when nobody is logged in."""
    router = APIRouter(prefix=prefix, route_class=ProblemRoute, tags=["billing"])
    owner_dep = Depends(customer_loader or _no_loader)

    @router.get("/customer", name="billingos.customer")
    def current_customer(owner_id: str | None = owner_dep) -> Any:
        if owner_id is None:
            return JSONResponse(UNAUTHENTICATED, status_code=401, media_type=PROBLEM_TYPE)
        return billing.customers.get(owner_id=owner_id).model_dump(mode="json")

    from ._guards import ROUTER_TAG
    setattr(current_customer, ROUTER_TAG, (billing, customer_loader))   # found by requires_feature()

    @router.post("/webhooks", name="billingos.webhooks")
    @router.post("/webhooks/", include_in_schema=False)  # answer here too: the app's slash redirect would fail Stripe
    async def webhooks(request: Request) -> Any:
        if int(request.headers.get("content-length") or 0) > MAX_WEBHOOK_BODY:
            raise WebhookPayloadError(f"The body is over the {MAX_WEBHOOK_BODY} byte limit.")
        body = await request.body()
        receipt = await run_in_threadpool(billing.webhooks.receive, body, request.headers)
        return receipt.model_dump()

    return router
