"""Linkshelf on FastAPI (example_app.fastapi_app): the same domain module as the Flask app, over real HTTP
through Starlette's test client, with billingos's router mounted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from billingos import Billing
from example_app.fastapi_app import create_app

from .conftest import PASSWORD, make_app, signup

ADA = {"name": "Ada", "email": "ada@example.com", "password": PASSWORD}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "instance")) as c:
        yield c


def _billing(client: TestClient) -> Billing:
    found: Billing = client.app.state.billing      # type: ignore[attr-defined]
    return found


def test_signup_login_links_and_the_metered_api(client: TestClient) -> None:
    made = client.post("/signup", json=ADA)
    assert made.status_code == 201 and made.json()["trial_error"] is None
    owner = made.json()["user"]["owner_id"]
    billing = _billing(client)
    [sub] = billing.subscriptions.list(owner)
    assert (sub.status, sub.items[0].lookup_key) == ("trialing", "pro_monthly")

    link = client.post("/api/links", json={"url": "https://example.com/", "slug": "ex1"},
                       headers={"Idempotency-Key": "a"})
    assert link.status_code == 201 and link.json()["link"]["slug"] == "ex1"
    listing = client.get("/api/links", headers={"Idempotency-Key": "b"})
    again = client.get("/api/links", headers={"Idempotency-Key": "b"})
    assert listing.json()["quota"] == {"limit": 10_000, "used": 2, "remaining": 9_998}
    assert again.json()["quota"]["used"] == 2
    assert billing.usage.total(owner, "api_calls") == 2
    assert client.get("/s/ex1", follow_redirects=False).headers["location"] == "https://example.com/"

    export = client.get("/app/export.csv")
    assert export.status_code == 200 and export.text.splitlines()[1].startswith("ex1,https://example.com/,")

    token = client.post("/app/developers/token").json()["token"]
    assert client.post("/logout").status_code == 204
    assert client.get("/billing/portal/").status_code == 401       # via GET /login, which explains how
    assert client.get("/api/links").status_code == 401
    assert client.get("/app/export.csv").status_code == 401
    by_token = client.get("/api/links", headers={"Authorization": f"Bearer {token}"})
    assert by_token.status_code == 200 and len(by_token.json()["links"]) == 1

    assert client.post("/login", json={"email": "ada@example.com", "password": "nope nope"}).status_code == 401
    assert client.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 200
    assert client.get("/billing/portal/").status_code == 200
    assert client.get("/billing/admin/").status_code == 403            # Ada is not staff


def test_the_free_plan_gets_403_for_the_export(client: TestClient) -> None:
    owner = client.post("/signup", json=ADA).json()["user"]["owner_id"]
    billing = _billing(client)
    [sub] = billing.subscriptions.list(owner)
    billing.subscriptions.cancel(sub, at_period_end=False)
    billing.subscriptions.create(owner, price="free_monthly")
    refused = client.get("/app/export.csv")
    assert refused.status_code == 403 and refused.json()["feature"] == "export"
    slug = client.post("/api/links", json={"url": "https://example.com/", "slug": "mine"})
    assert slug.status_code == 403 and billing.usage.total(owner, "api_calls") == 0


@pytest.mark.parametrize("body", [{"name": "Eve", "email": "eve@example.com\x00", "password": PASSWORD},
                                  {"name": "Eve", "email": "eve@example.com", "password": "short"},
                                  {"name": "E" * 81, "email": "eve@example.com", "password": PASSWORD},
                                  {"name": "Eve\ud800", "email": "eve@example.com", "password": PASSWORD},
                                  {"name": 5, "email": [], "password": None}, {}, [1]])
def test_hostile_signups_are_4xx_and_write_nothing(client: TestClient, body: object) -> None:
    raw = json.dumps(body).encode()          # ASCII-escaped: a lone surrogate travels as \\ud800
    response = client.post("/signup", content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert _billing(client).customers.list().items == []


def test_a_cross_site_form_cannot_write_with_the_session(client: TestClient) -> None:
    client.post("/signup", json=ADA)
    forged = client.post("/api/links", content=b'{"url": "https://evil.example/"}',
                         headers={"Content-Type": "text/plain"})
    assert forged.status_code == 422
    assert client.get("/api/links").json()["links"] == []


def test_flask_and_fastapi_share_one_domain_and_one_instance(tmp_path: Path) -> None:
    flask_app = make_app(tmp_path / "instance")
    signup(flask_app.test_client(), "ada")
    flask_app.extensions["billingos"].billing_for(flask_app).close()
    with TestClient(create_app(tmp_path / "instance")) as c:
        assert c.post("/login", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 200
        assert c.get("/billing/customer").json()["email"] == "ada@example.com"
