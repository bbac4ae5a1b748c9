"""Linkshelf on FastAPI (example_app.fastapi_app): the links API, the session and the shared instance, over
real HTTP through Starlette's test client. Its pages are tested with Flask's in test_pages.py and
test_product.py (the ``site`` fixture)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from billingos import Billing
from example_app.fastapi_app import create_app

from .conftest import PASSWORD, login, make_app, owner_of, post, signup

TOKEN = re.compile(r"lsk_[A-Za-z0-9_\-]{43}")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "instance"), follow_redirects=False) as c:
        assert signup(c).status_code == 302
        yield c


def _billing(client: TestClient) -> Billing:
    found: Billing = client.app.state.billing      # type: ignore[attr-defined]
    return found


def test_the_links_api_with_the_session_and_with_a_token(client: TestClient) -> None:
    owner = owner_of(client.app)      # type: ignore[arg-type]
    billing = _billing(client)
    link = client.post("/api/links", json={"url": "https://example.com/", "slug": "ex1"},
                       headers={"Idempotency-Key": "a"})
    assert link.status_code == 201 and link.json()["link"]["slug"] == "ex1"
    listing = client.get("/api/links", headers={"Idempotency-Key": "b"})
    again = client.get("/api/links", headers={"Idempotency-Key": "b"})
    assert listing.json()["quota"] == {"limit": 10_000, "used": 2, "remaining": 9_998}
    assert again.json()["quota"]["used"] == 2
    assert billing.usage.total(owner, "api_calls") == 2
    assert client.get("/s/ex1").headers["location"] == "https://example.com/"

    token = TOKEN.search(post(client, "/app/developers/token", page="/app/developers").text).group(0)  # type: ignore[union-attr]
    assert post(client, "/logout").status_code == 302
    assert client.get("/api/links").status_code == 401
    by_token = client.get("/api/links", headers={"Authorization": f"Bearer {token}"})
    assert by_token.status_code == 200 and len(by_token.json()["links"]) == 1
    gone = client.delete(f"/api/links/{link.json()['link']['id']}", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 204 and billing.usage.total(owner, "api_calls") == 4


def test_the_free_plan_cannot_choose_a_short_name_through_the_api(client: TestClient) -> None:
    owner = owner_of(client.app)      # type: ignore[arg-type]
    billing = _billing(client)
    [sub] = billing.subscriptions.list(owner)
    billing.subscriptions.cancel(sub, at_period_end=False)
    billing.subscriptions.create(owner, price="free_monthly")
    slug = client.post("/api/links", json={"url": "https://example.com/", "slug": "mine"})
    assert slug.status_code == 403 and slug.headers["content-type"] == "application/problem+json"
    assert billing.usage.total(owner, "api_calls") == 0


@pytest.mark.parametrize("body", [{"url": "javascript:alert(1)"}, {"url": 5}, {"url": "https://e.example/\x00"},
                                  {"url": "https://e.example/", "note": "\ud800"}, {}, [1], "text"])
def test_hostile_api_bodies_are_4xx_and_write_nothing(client: TestClient, body: object) -> None:
    raw = json.dumps(body).encode()          # ASCII-escaped: a lone surrogate travels as \\ud800
    response = client.post("/api/links", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert client.get("/api/links").json()["links"] == []


def test_a_cross_site_form_cannot_write_with_the_session(client: TestClient) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        forged = client.post("/api/links", content=b'{"url": "https://evil.example/"}',
                             headers={"Content-Type": content_type})
        assert forged.status_code == 422, content_type
    assert client.get("/api/links").json()["links"] == []


def test_flask_and_fastapi_share_one_domain_and_one_instance(tmp_path: Path) -> None:
    flask_app = make_app(tmp_path / "instance")
    signup(flask_app.test_client(), "ada")
    flask_app.extensions["billingos"].billing_for(flask_app).close()
    with TestClient(create_app(tmp_path / "instance"), follow_redirects=False) as c:
        assert login(c, "ada@example.com", PASSWORD).headers["location"] == "/app"
        assert c.get("/billing/customer").json()["email"] == "ada@example.com"
