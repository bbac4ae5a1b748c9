"""The webhook route through real HTTP (Flask's and FastAPI's test clients), fed by the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from billingos import Billing
from billingos.emulator import signature_header
from billingos_fastapi import create_router
from billingos_flask import BillingOS
from tests.conftest import WEBHOOK_SECRET


class FlaskClient:
    def __init__(self, billing: Billing) -> None:
        app = Flask(__name__)
        BillingOS(app, billing=billing)
        self.client = app.test_client()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        r = self.client.post(path, data=body, headers=headers)
        return r.status_code, r.get_json(silent=True), {k.lower(): v for k, v in r.headers.items()}

    def get(self, path: str) -> int:
        return self.client.get(path).status_code


class FastAPIClient:
    def __init__(self, billing: Billing) -> None:
        app = FastAPI()
        app.include_router(create_router(billing))
        self.client = TestClient(app, follow_redirects=False)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        r = self.client.post(path, content=body, headers=headers)
        return r.status_code, (r.json() if r.content else None), dict(r.headers)

    def get(self, path: str) -> int:
        return self.client.get(path).status_code


@pytest.fixture(params=["flask", "fastapi"])
def http(request: pytest.FixtureRequest, billing: Billing) -> Any:
    return FlaskClient(billing) if request.param == "flask" else FastAPIClient(billing)


def _event(billing: Billing) -> dict[str, Any]:
    key = billing.config.owner_metadata_key
    billing.stripe.v1.customers.create(params={"email": "h@b.co", "metadata": {key: "org_http"}})
    return billing.stripe.v1.events.list(params={"type": "customer.created"}).data[0].to_dict()


def _signed(billing: Billing, event: dict[str, Any], **over: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    ts = over.get("at", int(billing.now().timestamp()))
    return body, {"Stripe-Signature": signature_header(body, [over.get("secret", WEBHOOK_SECRET)], ts),
                  "Content-Type": over.get("ctype", "application/json")}


def test_valid_delivery_is_accepted_and_applied(http: Any, billing: Billing) -> None:
    event = _event(billing)
    status, body, _ = http.post("/billing/webhooks", *_signed(billing, event))
    assert status == 200 and body == {"accepted": True, "event_id": event["id"], "duplicate": False}
    assert billing.customers.get(owner_id="org_http").email == "h@b.co"
    status, body, _ = http.post("/billing/webhooks", *_signed(billing, event))
    assert status == 200 and body["duplicate"] is True


def test_bad_deliveries_are_400_problem_documents_and_store_nothing(http: Any, billing: Billing) -> None:
    event = _event(billing)
    now = int(billing.now().timestamp())
    cases = [
        _signed(billing, event, secret="whsec_wrong_secret_000"),
        _signed(billing, event, at=now - 400),
        _signed(billing, event, ctype="text/plain"),
        (json.dumps(event).encode(), {"Content-Type": "application/json"}),
        (b"x" * (600 * 1024), {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}),
    ]
    for body, headers in cases:
        status, doc, resp_headers = http.post("/billing/webhooks", body, headers)
        assert status == 400, doc
        assert resp_headers["content-type"].startswith("application/problem+json")
        assert doc["status"] == 400 and doc["detail"]
    assert billing.webhooks.events() == []


def test_route_is_post_only_and_never_redirects(http: Any, billing: Billing) -> None:
    assert http.get("/billing/webhooks") == 405
    status, _, _ = http.post("/billing/webhooks/", *_signed(billing, _event(billing)))
    assert status in (200, 404)          # never a 3xx: Stripe treats a redirect as a failed delivery


def test_emulator_delivers_over_the_route(billing: Billing) -> None:
    """End to end: the emulator's own signed deliveries reach the Flask route."""
    client = FlaskClient(billing)
    billing.testing.connect()     # sets the endpoint's secret; now re-point delivery at the HTTP route

    def through_http(body: bytes, headers: dict[str, str]) -> int:
        return client.post("/billing/webhooks", body, headers)[0]

    billing.emulator.webhooks.connect("http://127.0.0.1/billingos/webhooks", through_http)
    key = billing.config.owner_metadata_key
    c = billing.stripe.v1.customers.create(params={"email": "e2e@b.co", "metadata": {key: "org_e2e"}})
    assert billing.customers.get(owner_id="org_e2e").id == c.id
    assert {a.status for a in billing.emulator.webhooks.log} == {200}
