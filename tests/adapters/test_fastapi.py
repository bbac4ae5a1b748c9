"""billingos_fastapi through FastAPI's TestClient: real SQLite/PostgreSQL, real emulator, no mocks."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.testclient import TestClient

from billingos import Billing, NotFoundError
from billingos_fastapi import billing_dependency, create_router


def owner_from_header(x_owner: Annotated[str | None, Header()] = None) -> str | None:
    return x_owner


def _client(billing: Billing, **kw: object) -> TestClient:
    app = FastAPI()
    app.include_router(create_router(billing, **kw))  # type: ignore[arg-type]
    return TestClient(app)


def test_create_router_returns_an_api_router(billing: Billing) -> None:
    router = create_router(billing, customer_loader=owner_from_header)
    assert isinstance(router, APIRouter)
    paths = sorted(r.path for r in router.routes)  # type: ignore[attr-defined]
    assert [p for p in paths if "/portal/" not in p and "/api/v1/" not in p and "/admin/" not in p] == [
        "/billing/customer", "/billing/static/{path:path}", "/billing/stripe/{rest:path}", "/billing/webhooks",
        "/billing/webhooks/{tail:path}"]
    assert "/billing/portal/" in paths and "/billing/portal/invoices/{invoice_id}/pdf" in paths
    assert [p for p in paths if "/api/v1/" in p] == sorted([
        "/billing/api/v1/entitlements/check", "/billing/api/v1/usage", "/billing/api/v1/subscription",
        "/billing/api/v1/invoices", "/billing/api/v1/customer", "/billing/api/v1/openapi.json",
        "/billing/api/v1/billingos.js", "/billing/api/v1/{path:path}"])
    bare = sorted(r.path for r in create_router(billing, customer_loader=owner_from_header,  # type: ignore[attr-defined]
                                                portal_mode="off").routes)
    assert "/billing/portal/" not in bare


def test_customer_route_returns_the_loaded_owners_customer(billing: Billing) -> None:
    customer = billing.customers.create(owner_id="org_42", email="a@acme.co", name="Acme")
    response = _client(billing, customer_loader=owner_from_header).get("/billing/customer",
                                                                       headers={"X-Owner": "org_42"})
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["owner_id"], body["email"], body["name"]) == (customer.id, "org_42", "a@acme.co",
                                                                          "Acme")
    stripe_side = billing.stripe.v1.customers.retrieve(body["id"])
    assert stripe_side.to_dict()["metadata"]["billingos_owner_id"] == "org_42"


@pytest.mark.parametrize("owner, status, code", [
    (None, 401, "unauthenticated"),
    ("org_nobody", 404, "not_found"),
    (" org_42", 400, "invalid_input"),
    ("x" * 256, 400, "invalid_input"),
])
def test_customer_route_bad_input_is_a_problem_document(billing: Billing, owner: str | None, status: int,
                                                        code: str) -> None:
    billing.customers.create(owner_id="org_42", email="a@acme.co")
    headers = {"X-Owner": owner} if owner is not None else {}
    response = _client(billing, customer_loader=owner_from_header).get("/billing/customer", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    doc = response.json()
    assert doc["status"] == status and doc["type"].endswith("/" + code) and doc["detail"]
    if code == "invalid_input":
        assert doc["param"] == "owner_id"


def test_customer_route_refuses_other_methods(billing: Billing) -> None:
    client = _client(billing, customer_loader=owner_from_header)
    for method in ("post", "put", "delete"):
        assert client.request(method, "/billing/customer", headers={"X-Owner": "org_42"}).status_code == 405


def test_customer_route_without_a_loader_is_a_configuration_problem(billing: Billing) -> None:
    response = _client(billing).get("/billing/customer")
    assert response.status_code == 500
    doc = response.json()
    assert doc["type"].endswith("/configuration_error") and "customer_loader" in doc["detail"]


def test_prefix_moves_the_routes(billing: Billing) -> None:
    billing.customers.create(owner_id="org_7", email="seven@example.com")
    client = _client(billing, customer_loader=owner_from_header, prefix="/pay")
    assert client.get("/pay/customer", headers={"X-Owner": "org_7"}).json()["owner_id"] == "org_7"
    assert client.get("/billing/customer", headers={"X-Owner": "org_7"}).status_code == 404


def test_billing_dependency_in_host_routes_and_overridable(billing: Billing) -> None:
    get_billing = billing_dependency(billing)
    app = FastAPI()

    @app.get("/count")
    def count(b: Billing = Depends(get_billing)) -> dict[str, int]:  # a local: Annotated can't resolve it
        return {"customers": len(b.customers.list().items)}

    client = TestClient(app)
    assert client.get("/count").json() == {"customers": 0}
    billing.customers.create(owner_id="org_1", email="one@example.com")
    assert client.get("/count").json() == {"customers": 1}

    other = Billing(database_url="sqlite://", stripe_emulator=True)
    other.migrate()
    app.dependency_overrides[get_billing] = lambda: other
    assert client.get("/count").json() == {"customers": 0}


def test_billing_errors_in_host_routes_are_left_to_the_host(billing: Billing) -> None:
    app = FastAPI()
    app.include_router(create_router(billing, customer_loader=owner_from_header))

    @app.get("/mine")
    def mine() -> str:
        return billing.customers.get(owner_id="org_missing").id

    with pytest.raises(NotFoundError):
        TestClient(app).get("/mine")
