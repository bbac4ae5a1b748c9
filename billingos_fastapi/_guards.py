"""``requires_feature``: a dependency that gates a route on a feature, ``Depends(requires_feature("export"))``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from billingos import Billing, BillingError, ConfigurationError
from billingos.entitlements import feature_key

__all__ = ["ROUTER_TAG", "FeatureDenied", "add_problem_handlers", "requires_feature"]

PROBLEM_TYPE = "application/problem+json"
ROUTER_TAG = "_billingos"      # create_router's endpoints carry (billing, customer_loader) under this name


class FeatureDenied(HTTPException):
    """Raised by ``requires_feature``: 401 when nobody is logged in, 403 when the plan lacks the feature.

    Routes with ``route_class=ProblemRoute`` (billingos's own router) and apps that called
    ``add_problem_handlers(app)`` answer it as an RFC 9457 problem document; elsewhere FastAPI's default
    HTTPException handler answers ``{"detail": ...}`` with the same status. ``problem`` holds the document;
    register your own handler for FeatureDenied to answer differently (e.g. a redirect to pricing)."""

    def __init__(self, feature: str, owner_id: str | None) -> None:
        if owner_id is None:
            self.problem: dict[str, Any] = {
                "type": "https://billingos.dev/errors/unauthenticated", "title": "Unauthenticated", "status": 401,
                "detail": "Log in first: the customer_loader returned no owner id."}
        else:
            self.problem = {"type": "https://billingos.dev/errors/feature_not_available",
                            "title": "FeatureNotAvailable", "status": 403,
                            "detail": f"Your plan does not include {feature!r}. Upgrade to use it.", "feature": feature}
        self.feature, self.owner_id = feature, owner_id
        super().__init__(status_code=self.problem["status"], detail=self.problem["detail"])

    def response(self) -> JSONResponse:
        return JSONResponse(self.problem, status_code=self.status_code, media_type=PROBLEM_TYPE)


def add_problem_handlers(app: FastAPI) -> None:
    """Answer BillingError and FeatureDenied as RFC 9457 problem documents on every route of ``app``."""
    from ._router import problem_response

    async def billing_error(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(exc)  # type: ignore[arg-type]

    async def feature_denied(request: Request, exc: Exception) -> JSONResponse:
        return exc.response()  # type: ignore[attr-defined]

    app.add_exception_handler(BillingError, billing_error)
    app.add_exception_handler(FeatureDenied, feature_denied)


def _router_context(request: Request) -> tuple[Billing, Callable[..., Any] | None]:
    """The Billing and customer_loader of the billingos router included in this app (cached)."""
    state = request.app.state
    found = getattr(state, "billingos_context", None)
    if found is None:
        found = _find_tag(request.app.router.routes, depth=0)
        if found is None:
            raise ConfigurationError("requires_feature() found no billingos router: include "
                                     "create_router(billing, customer_loader=...) in the app, or pass billing= "
                                     "and customer_loader= to requires_feature().")
        state.billingos_context = found
    return found


def _find_tag(routes: Any, *, depth: int) -> Any:
    """Walk the app's routes (and included or mounted routers) for a create_router endpoint."""
    for route in list(routes or ()):
        found = getattr(getattr(route, "endpoint", None), ROUTER_TAG, None)
        if found is not None:
            return found
        inner = getattr(route, "original_router", None) or route   # FastAPI's lazily included routers
        children = getattr(inner, "routes", None)
        if depth < 8 and children is not None and children is not routes:
            found = _find_tag(children, depth=depth + 1)
            if found is not None:
                return found
    return None


async def _owner_from_router(request: Request) -> str | None:
    """Call the router's customer_loader. Loaders with their own dependencies (headers, cookies, Depends)
    need ``requires_feature(..., customer_loader=fn)`` so FastAPI can resolve them."""
    loader = _router_context(request)[1]
    if loader is None:
        raise ConfigurationError("requires_feature() needs the current owner: pass customer_loader= to "
                                 "create_router() or to requires_feature().")
    params = list(inspect.signature(loader).parameters.values())
    if len(params) > 1 or any(p.annotation not in (Request, "Request") for p in params):
        raise ConfigurationError("This customer_loader takes its own parameters; pass it to requires_feature("
                                 "..., customer_loader=fn) so FastAPI resolves them.")
    result = loader(request) if params else loader()
    if inspect.isawaitable(result):
        result = await result
    return result


def requires_feature(feature: str, *, customer_loader: Callable[..., Any] | None = None,
                     billing: Billing | None = None) -> Callable[..., str]:
    """A dependency that lets the route run only when the current owner has ``feature``; it returns the
    owner id. ``Depends(requires_feature("export"))`` uses the Billing and customer_loader given to
    ``create_router``; pass ``customer_loader=`` (a dependency) and/or ``billing=`` to choose them here."""
    key = feature_key(feature, "feature")
    owner_dep: Any = Depends(customer_loader if customer_loader is not None else _owner_from_router)

    def guard(request: Request, owner_id: str | None = owner_dep) -> str:
        chosen = billing if billing is not None else _router_context(request)[0]
        if owner_id is None or not chosen.has_feature(owner_id, key):
            raise FeatureDenied(key, owner_id)
        return owner_id

    guard.__name__ = f"requires_feature_{key}"
    return guard
