"""The JSON API's OpenAPI 3.1 description, from the same pydantic models and ``OPERATIONS`` the handler uses.

``operation_spec(op)`` is one operation's parameters, request body, responses and security: the Flask
adapter serves ``openapi_document(prefix)``, and the FastAPI adapter hands each spec to its routes as
``openapi_extra`` so FastAPI's own generator writes its document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .operations import OPERATIONS, Operation
from .schemas import Problem

__all__ = ["ERROR_STATUSES", "REF", "component_schemas", "openapi_document", "operation_spec"]

REF = "#/components/schemas/{model}"
TITLE = "billingos JSON API"
VERSION = "1"
#: Problem statuses every operation may answer, with what they mean.
ERROR_STATUSES = {"400": "Bad input (the problem's `param` names it); nothing was written.",
                  "401": "Missing, malformed, unknown or revoked API key.",
                  "403": "The API key lacks the operation's scope.",
                  "404": "No such object for this key's owner.",
                  "429": "The key's rate limit; see Retry-After and the RateLimit-* headers."}
SECURITY_SCHEME = {"apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "bos_live_… / bos_test_…"}}


def operation_spec(op: Operation) -> dict[str, Any]:
    """The OpenAPI fields of one operation (without the 200 response's schema, which each generator adds)."""
    spec: dict[str, Any] = {"operationId": op.id, "summary": op.summary, "security": [{"apiKey": [op.scope]}],
                            "x-billingos-scope": op.scope,
                            "responses": {code: {"description": text, "content": {
                                "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}}
                                for code, text in ERROR_STATUSES.items()}}
    if op.query is not None:
        spec["parameters"] = [_parameter(name, field, op.query) for name, field in op.query.model_fields.items()]
    if op.body:
        spec["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [{"$ref": REF.format(model=m.__name__)} for m in op.body]}}}}
    return spec


def _parameter(name: str, field: Any, model: type[BaseModel]) -> dict[str, Any]:
    schema = dict(model.model_json_schema(ref_template=REF)["properties"][name])
    description = schema.pop("description", field.description)
    schema.pop("title", None)
    if schema.get("default", 0) is None:     # JSON null: FastAPI's encoder drops it; say nothing in both
        schema.pop("default")
    out = {"name": name, "in": "query", "required": field.is_required(), "schema": schema}
    if description:
        out["description"] = description
    return out


def component_schemas(models: list[type[BaseModel]] | None = None) -> dict[str, Any]:
    """JSON Schemas of the operations' bodies and responses (and ``Problem``), by model name."""
    chosen = models if models is not None else _models()
    _, top = models_json_schema([(m, "serialization") for m in chosen], ref_template=REF)
    return dict(top.get("$defs", {}))


def _models() -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = [Problem]
    for op in OPERATIONS:
        for m in (op.response, *op.body):
            if m not in out:
                out.append(m)
    return out


def openapi_document(prefix: str = "/billing") -> dict[str, Any]:
    """The whole document, paths under ``{prefix}/api/v1/``."""
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        spec = operation_spec(op)
        spec["responses"] = {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "$ref": REF.format(model=op.response.__name__)}}}}, **spec["responses"]}
        paths.setdefault(f"{prefix}/api/v1/{op.path}", {})[op.method.lower()] = spec
    return {"openapi": "3.1.0", "info": {"title": TITLE, "version": VERSION},
            "paths": paths, "components": {"schemas": component_schemas(), "securitySchemes": SECURITY_SCHEME}}
