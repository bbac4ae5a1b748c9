"""Both adapters describe the same operations in their OpenAPI documents (FastAPI's own generator, Flask's
from the same pydantic models), and serve the same billingos.js."""

from __future__ import annotations

from typing import Any

import pytest

from billingos import Billing
from billingos.api import OPERATIONS, client_js

from .conftest import Http


@pytest.fixture
def docs(billing: Billing) -> dict[str, dict[str, Any]]:
    out = {}
    for kind in ("flask", "fastapi"):
        r = Http(kind, billing, prefix="/pay").get("openapi.json")
        assert r.status == 200 and r.headers["content-type"].startswith("application/json")
        out[kind] = r.json
    return out


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """What a client generator reads: per path and method, the id, parameters, body, responses, security."""
    out = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            params = sorted((p["name"], p["in"], p["required"], p["schema"].get("type") or str(p["schema"]))
                            for p in op.get("parameters", []))
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            out[(path, method)] = (op["operationId"], params, body, ok, sorted(op["responses"]), op["security"])
    return out


def _resolved(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    return doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]  # type: ignore[no-any-return]


def test_both_adapters_describe_the_same_operations(docs: dict[str, dict[str, Any]]) -> None:
    flask, fastapi = _operations(docs["flask"]), _operations(docs["fastapi"])
    assert flask == fastapi
    assert sorted(flask) == sorted((f"/pay/api/v1/{op.path}", op.method.lower()) for op in OPERATIONS)
    for (_path, _method), (_id, _params, body, ok, codes, security) in flask.items():
        assert codes == ["200", "400", "401", "403", "404", "429"] and security[0]["apiKey"]
        for doc in docs.values():       # every reference resolves to the same properties in both documents
            assert set(_resolved(doc, ok)["properties"]) == set(_resolved(docs["flask"], ok)["properties"])
            for ref in (body or {}).get("oneOf", []):
                assert set(_resolved(doc, ref["$ref"])["properties"]) >= {"meter", "value", "idempotency_key"} \
                    or "events" in _resolved(doc, ref["$ref"])["properties"]
    check = flask[("/pay/api/v1/entitlements/check", "get")]
    assert check[0] == "checkEntitlement" and ("feature", "query", True, "string") in check[1]
    assert set(_resolved(docs["fastapi"], check[3])["properties"]) == {
        "feature", "allowed", "limit", "used", "remaining", "resets_at", "reason"}
    for doc in docs.values():
        assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
        assert doc["openapi"].startswith("3.1")


def test_both_adapters_serve_billingos_js(billing: Billing) -> None:
    for kind in ("flask", "fastapi"):
        r = Http(kind, billing).get("billingos.js")
        assert r.status == 200 and r.headers["content-type"].startswith("text/javascript")
        assert r.text.encode() == client_js() and "export function createClient" in r.text
