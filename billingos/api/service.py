"""``billing.api``: the JSON API at ``{prefix}/api/v1/``, once for both adapters.

An adapter turns its framework's request into an ``ApiRequest``, calls ``billing.api.handle(request)`` and
sends the ``ApiResponse`` back as it is. Order of refusals: 401 (no usable key), 403 (the key lacks the
operation's scope), 429 (the key's rate limit), 400/404 (the input); nothing is written before all passed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ..actor import Actor, request_id_from
from ..api_keys import ApiKey
from ..context import Context
from ..errors import (
    BillingError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
)
from ..ratelimit import Decision, RateLimiter, storage_uri
from .operations import OPERATIONS, Call, Operation, Services

__all__ = ["ApiRequest", "ApiResponse", "JsonApi"]

log = logging.getLogger("billingos.api")
MAX_BODY = 1_000_000
JSON = "application/json"
PROBLEM = "application/problem+json"
_BEARER = re.compile(r"Bearer ([\x21-\x7e]{1,200})")


@dataclass(frozen=True)
class ApiRequest:
    """What an adapter passes in. ``path`` is relative to ``{prefix}/api/v1/`` (e.g. ``"usage"``);
    ``headers`` keys are lower case; ``query`` holds the first value of each parameter."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client_address: str | None = None


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


class JsonApi:
    def __init__(self, ctx: Context, *, api_keys: Any, services: Services) -> None:
        self._ctx = ctx
        self._keys = api_keys
        self._services = services
        self._routes = {(op.method, op.path): op for op in OPERATIONS}
        self._limiter: RateLimiter | None = None

    @property
    def operations(self) -> tuple[Operation, ...]:
        return OPERATIONS

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:      # built on first use: importing `limits` costs nothing until then
            config = self._ctx.config
            self._limiter = RateLimiter(config.api_rate_limits, storage_uri(config),
                                        on_storage_error=config.rate_limit_on_storage_error)
        return self._limiter

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; never raises (every failure is a problem document)."""
        request_id = request_id_from(request.headers.get("x-request-id"))
        headers = {"X-Request-ID": request_id, "Cache-Control": "no-store"}
        try:
            op = self._route(request)
            key = self._authenticate(request.headers.get("authorization"))
            if op.scope not in key.scopes:
                raise ForbiddenError(f"This API key lacks the {op.scope!r} scope this operation needs.",
                                     scope=op.scope)
            decision = self.limiter.hit(key.id, op.scope)
            if decision is not None:
                headers.update(decision.headers())
                if not decision.allowed:
                    raise _limited(decision)
            call = Call(key=key, query=_parse_query(op, request.query), body=_parse_body(op, request.body),
                        services=self._services)
            result = op.run(call)
            return ApiResponse(200, result.model_dump_json().encode(), JSON, headers)
        except BillingError as err:
            return _problem(err, headers, request_id)
        except Exception:   # a defect: logged with the request id, answered as a 500 problem document
            log.exception("billingos API %s %s failed (request %s)", request.method, request.path, request_id)
            return _problem(InternalError("Internal error; the request id is in the server's log."), headers,
                            request_id)

    def actor(self, key: ApiKey, request: ApiRequest) -> Actor:
        """The audit log's ``Actor`` for a request made with ``key``."""
        return Actor(kind="api_key", id=key.id, request_id=request_id_from(request.headers.get("x-request-id")),
                     client_address=(request.client_address or None))

    def _route(self, request: ApiRequest) -> Operation:
        path = request.path.strip("/")
        op = self._routes.get((request.method.upper(), path))
        if op is None:
            allowed = sorted(m for m, p in self._routes if p == path)
            if allowed:
                raise MethodNotAllowed(f"{request.method[:10]} is not allowed here; use {', '.join(allowed)}.",
                                       allow=", ".join(allowed))
            raise NotFoundError(f"No JSON API operation at {path[:60]!r}.")
        return op

    def _authenticate(self, header: str | None) -> ApiKey:
        if not header:
            raise UnauthenticatedError("Send an API key: 'Authorization: Bearer bos_…'.", reason="missing")
        found = _BEARER.fullmatch(header)
        if found is None:
            raise UnauthenticatedError("The Authorization header must be 'Bearer ' and an API key.",
                                       reason="invalid_request")
        try:
            key: ApiKey = self._keys.authenticate(found[1])
            return key
        except UnauthenticatedError as err:
            err.details["reason"] = "invalid_token"
            raise


class MethodNotAllowed(BillingError):
    code, status = "method_not_allowed", 405


class BodyTooLarge(InvalidInputError):
    code, status = "body_too_large", 413


class InternalError(BillingError):
    code, status = "internal_error", 500


def _limited(d: Decision) -> RateLimitedError:
    return RateLimitedError(f"Rate limit of {d.limit} requests per {d.window} s reached for this API key; retry "
                            f"in {max(1, d.reset)} s.", retry_after=max(1, d.reset), limit=d.limit, reset=d.reset)


def _parse_query(op: Operation, query: Mapping[str, str]) -> Any:
    if op.query is None:
        return None
    unknown = sorted(set(query) - set(op.query.model_fields))
    if unknown:
        raise InvalidInputError(f"Unknown query parameter {unknown[0][:40]!r}; this operation takes "
                                f"{', '.join(op.query.model_fields)}.", param=unknown[0][:40])
    return _validate(op.query, dict(query))


def _parse_body(op: Operation, body: bytes) -> Any:
    if not op.body:
        return None
    if len(body) > MAX_BODY:
        raise BodyTooLarge(f"The body is over {MAX_BODY:,} bytes; send at most 1,000 events per request.",
                           param="body")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("The body must be a JSON object.", param="body") from None
    if not isinstance(data, dict):
        raise InvalidInputError("The body must be a JSON object: one event, or {\"events\": [...]}.", param="body")
    shape = op.body[0] if "events" in data else op.body[-1]
    return _validate(shape, data)


def _validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        param = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".") or "body"
        raise InvalidInputError(f"{param}: {first['msg']}.", param=param) from None


def _problem(err: BillingError, headers: dict[str, str], request_id: str) -> ApiResponse:
    doc = err.to_problem()
    doc["request_id"] = request_id
    out = dict(headers)
    if isinstance(err, UnauthenticatedError):
        reason = err.details.get("reason")
        out["WWW-Authenticate"] = 'Bearer realm="billingos"' + (
            f', error="{reason}"' if reason in ("invalid_request", "invalid_token") else "")
    elif isinstance(err, ForbiddenError) and "scope" in err.details:
        doc["scope"] = err.details["scope"]
        out["WWW-Authenticate"] = f'Bearer realm="billingos", error="insufficient_scope", scope="{doc["scope"]}"'
    elif isinstance(err, RateLimitedError):     # 429, or 503 when the limiter's storage is down ("closed")
        doc["retry_after"] = err.retry_after
        out["Retry-After"] = str(err.retry_after)
    elif "allow" in err.details:
        out["Allow"] = err.details["allow"]
    return ApiResponse(err.status, json.dumps(doc).encode(), PROBLEM, out)
