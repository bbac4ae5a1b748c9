"""The example app gates real features (requires_feature) and meters real API calls (consume + track)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from billingos import Billing

from .conftest import post, signup, text


def _owner(app: Flask, username: str = "ada") -> str:
    from sqlalchemy import select

    from example_app.models import User
    with app.extensions["example_app.db"]() as db:
        return str(db.scalars(select(User.owner_id).where(User.username == username)).one())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    assert signup(c).status_code == 302
    return c


def test_pro_trial_can_export_and_the_account_page_lists_features(client: FlaskClient) -> None:
    page = text(client.get("/account"))
    assert "export: on" in page and "sso: not in your plan" in page
    csv = client.get("/exports/invoices.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0] == "number,status,currency,total,created"


def test_export_is_refused_without_the_feature_and_when_logged_out(app: Flask, client: FlaskClient,
                                                                   billing: Billing) -> None:
    owner = _owner(app)
    [sub] = billing.subscriptions.list(owner)
    billing.subscriptions.cancel(sub, at_period_end=False)
    denied = client.get("/exports/invoices.csv")
    assert denied.status_code == 403 and denied.get_json()["status"] == 403
    assert "export: not in your plan" in text(client.get("/account"))
    anonymous = app.test_client().get("/exports/invoices.csv")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_api_calls_are_metered_once_per_idempotency_key(app: Flask, client: FlaskClient, billing: Billing) -> None:
    owner = _owner(app)
    first = client.get("/api/v1/projects", headers={"Idempotency-Key": "call-1"})
    again = client.get("/api/v1/projects", headers={"Idempotency-Key": "call-1"})
    other = client.get("/api/v1/projects")
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert first.get_json()["quota"]["limit"] == 10_000
    assert billing.usage.total(owner, "api_calls") == 2
    assert billing.check(owner, "api_calls", 0).used == 2
    assert "API calls this period: 2 of 10000" in text(client.get("/account"))


def test_api_refuses_with_429_once_the_quota_is_gone(app: Flask, client: FlaskClient, billing: Billing) -> None:
    owner = _owner(app)
    left = billing.check(owner, "api_calls", 0).remaining
    assert left == 10_000
    billing.consume(owner, "api_calls", left, idempotency_key="bulk-job")
    refused = client.get("/api/v1/projects")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.mimetype == "application/problem+json" and "10000/10000" in refused.get_json()["detail"]
    assert billing.usage.total(owner, "api_calls") == 0          # a refused call is not billed


def test_api_needs_a_login(app: Flask) -> None:
    response = app.test_client().get("/api/v1/projects")
    assert response.status_code == 401 and response.get_json()["status"] == 401


def test_api_is_get_only(client: FlaskClient) -> None:
    assert post(client, "/api/v1/projects", page="/account").status_code == 405
