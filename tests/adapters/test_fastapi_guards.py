"""``billingos_fastapi.requires_feature`` through FastAPI's TestClient: real DB, real emulator, no mocks."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.testclient import TestClient

from billingos import ConfigurationError, InvalidInputError
from billingos_fastapi import FeatureDenied, ProblemRoute, add_problem_handlers, create_router, requires_feature
from tests.entitlements.conftest import Plans, plans  # noqa: F401  (the fixture)


def owner_from_header(x_owner: Annotated[str | None, Header()] = None) -> str | None:
    return x_owner


def owner_from_request(request: Request) -> str | None:
    return request.headers.get("x-owner")


@pytest.fixture
def subscribed(plans: Plans) -> Plans:  # noqa: F811
    plans.sync(plans.subscription(plans.customer("org_pro"), "pro"))
    plans.sync(plans.subscription(plans.customer("org_basic"), "basic"))
    return plans


def _app(subscribed: Plans, *, loader=owner_from_request, problems: bool = True) -> FastAPI:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.include_router(create_router(subscribed.billing, customer_loader=loader))
    if problems:
        add_problem_handlers(app)

    @app.get("/export", dependencies=[Depends(requires_feature("export"))])
    def export() -> dict[str, bool]:
        return {"exported": True}

    @app.get("/who")
    def who(owner: Annotated[str, Depends(requires_feature("export", customer_loader=owner_from_header))]) -> dict:
        return {"owner": owner}

    return app


def test_granted_owner_reaches_the_route(subscribed: Plans) -> None:
    client = TestClient(_app(subscribed))
    assert client.get("/export", headers={"X-Owner": "org_pro"}).json() == {"exported": True}
    assert client.get("/who", headers={"X-Owner": "org_pro"}).json() == {"owner": "org_pro"}


@pytest.mark.parametrize("owner, status, code", [
    ("org_basic", 403, "feature_not_available"), (None, 401, "unauthenticated"),
    ("org_nobody", 403, "feature_not_available"), (" org_pro", 403, "feature_not_available"),
    ("x" * 300, 403, "feature_not_available"),
])
def test_denied_is_a_problem_document(subscribed: Plans, owner: str | None, status: int, code: str) -> None:
    client = TestClient(_app(subscribed))
    headers = {"X-Owner": owner} if owner is not None else {}
    for path in ("/export", "/who"):
        response = client.get(path, headers=headers)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        doc = response.json()
        assert doc["status"] == status and doc["type"].endswith("/" + code) and doc["detail"]


def test_problem_route_renders_it_without_app_handlers(subscribed: Plans) -> None:
    app = _app(subscribed, problems=False)
    router = APIRouter(route_class=ProblemRoute)

    @router.get("/sso", dependencies=[Depends(requires_feature("sso", billing=subscribed.billing))])
    def sso() -> dict[str, bool]:
        return {"sso": True}

    app.include_router(router)
    client = TestClient(app)
    denied = client.get("/sso", headers={"X-Owner": "org_pro"})
    assert denied.status_code == 403 and denied.json()["type"].endswith("/feature_not_available")
    plain = client.get("/export", headers={"X-Owner": "org_basic"})   # FastAPI's default HTTPException rendering
    assert plain.status_code == 403 and "export" in plain.json()["detail"]


def test_upgrade_is_seen_on_the_next_request(subscribed: Plans) -> None:
    client = TestClient(_app(subscribed))
    assert client.get("/export", headers={"X-Owner": "org_basic"}).status_code == 403
    sub = subscribed.billing.subscriptions.list("org_basic")[0]
    subscribed.sync(subscribed.subscription(sub.customer, "pro", sub_id=sub.id))
    assert client.get("/export", headers={"X-Owner": "org_basic"}).status_code == 200


def test_custom_handler_overrides_the_denial(subscribed: Plans) -> None:
    app = _app(subscribed)
    from fastapi.responses import RedirectResponse

    @app.exception_handler(FeatureDenied)
    async def to_pricing(request: Request, exc: FeatureDenied) -> RedirectResponse:
        return RedirectResponse(f"/pricing?feature={exc.feature}", status_code=303)

    response = TestClient(app).get("/export", headers={"X-Owner": "org_basic"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/pricing?feature=export"


def test_loader_with_its_own_params_must_be_passed_explicitly(subscribed: Plans) -> None:
    client = TestClient(_app(subscribed, loader=owner_from_header), raise_server_exceptions=False)
    response = client.get("/export", headers={"X-Owner": "org_pro"})
    assert response.status_code == 500 and response.json()["type"].endswith("/configuration_error")
    assert "customer_loader" in response.json()["detail"]
    assert client.get("/who", headers={"X-Owner": "org_pro"}).json() == {"owner": "org_pro"}


def test_without_a_billingos_router_it_says_what_to_do(subscribed: Plans) -> None:
    app = FastAPI()
    add_problem_handlers(app)

    @app.get("/export", dependencies=[Depends(requires_feature("export", customer_loader=owner_from_header))])
    def export() -> dict[str, bool]:
        return {"exported": True}

    response = TestClient(app).get("/export", headers={"X-Owner": "org_pro"})
    assert response.status_code == 500 and "create_router" in response.json()["detail"]
    assert response.json()["title"] == ConfigurationError.__name__


@pytest.mark.parametrize("bad", ["", " export", None, 7, "x" * 81])
def test_bad_feature_key_fails_when_declared(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="feature"):
        requires_feature(bad)  # type: ignore[arg-type]
