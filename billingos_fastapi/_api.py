"""The JSON API's routes on the router: one route per operation of ``billingos.api.OPERATIONS`` (so FastAPI's
own generator describes them), each handing the raw request to ``billing.api.handle``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from billingos import Billing
from billingos.api import (
    MAX_BODY,
    OPERATIONS,
    SECURITY_SCHEME,
    TITLE,
    VERSION,
    ApiRequest,
    Operation,
    client_js,
    component_schemas,
    operation_spec,
)

__all__ = ["add_api_routes"]

API_TAG = "billing-api"


def _endpoint(billing: Billing, path: str | None) -> Callable[..., Coroutine[Any, Any, Response]]:
    async def endpoint(request: Request) -> Response:
        body = b""
        if request.method != "GET":
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    break
        query = {k: request.query_params.getlist(k)[0] for k in request.query_params}
        api_request = ApiRequest(method=request.method, path=path or request.path_params["path"], query=query,
                                 headers=dict(request.headers), body=body,
                                 client_address=request.client.host if request.client else None)
        out = await run_in_threadpool(billing.api.handle, api_request)
        return Response(out.body, status_code=out.status, headers=out.headers, media_type=out.content_type)

    return endpoint


def add_api_routes(router: APIRouter, billing: Billing, prefix: str) -> None:
    for op in OPERATIONS:
        router.add_api_route(f"/api/v1/{op.path}", _endpoint(billing, op.path), methods=[op.method],
                             name=f"billingos.api.{op.id}", operation_id=op.id, summary=op.summary,
                             tags=[API_TAG], response_model=None, responses={200: {"model": op.response}},
                             openapi_extra=_extra(op))

    async def openapi() -> dict[str, Any]:
        return _document(router, prefix)

    async def client() -> Response:
        return Response(client_js(), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600"})

    router.add_api_route("/api/v1/openapi.json", openapi, methods=["GET"], include_in_schema=False)
    router.add_api_route("/api/v1/billingos.js", client, methods=["GET"], include_in_schema=False)
    router.add_api_route("/api/v1/{path:path}", _endpoint(billing, None),
                         methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)


def _extra(op: Operation) -> dict[str, Any]:
    spec = operation_spec(op)
    return {k: v for k, v in spec.items() if k not in ("operationId", "summary")}


def _document(router: APIRouter, prefix: str) -> dict[str, Any]:
    """FastAPI's own document for the API's routes; the request bodies' schemas (parsed by billingos, so
    FastAPI does not see them) and the security scheme are added to its components."""
    cached = getattr(router, "_billingos_openapi", None)
    if cached is None:
        routes = [r for r in router.routes if API_TAG in (getattr(r, "tags", None) or [])]
        cached = get_openapi(title=TITLE, version=VERSION, openapi_version="3.1.0", routes=routes)
        components = cached.setdefault("components", {})
        components.setdefault("schemas", {}).update(
            {k: v for k, v in component_schemas().items() if k not in components["schemas"]})
        components["securitySchemes"] = SECURITY_SCHEME
        router._billingos_openapi = cached   # type: ignore[attr-defined]
    return cached
