"""billing.testing.connect(app): the emulator's signed webhooks go through the host app's own route.

Each test counts the requests the app itself served, so a delivery that bypassed the route (straight to
billing.webhooks.receive) would fail it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from flask import Flask
from flask import request as flask_request
from werkzeug.serving import make_server

from billingos import Billing, InvalidInputError
from billingos_fastapi import create_router
from billingos_flask import BillingOS


def flask_app(billing: Billing, prefix: str = "/billing") -> tuple[Flask, list[str]]:
    app = Flask(__name__)
    app.config["BILLINGOS_URL_PREFIX"] = prefix
    BillingOS(app, billing=billing)
    seen: list[str] = []
    app.before_request(lambda: seen.append(f"{flask_request.method} {flask_request.path}") and None)
    return app, seen


def fastapi_app(billing: Billing, prefix: str = "/billing") -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    app.include_router(create_router(billing, prefix=prefix))
    seen: list[str] = []

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        seen.append(f"{request.method} {request.url.path}")
        return await call_next(request)

    return app, seen


TARGETS = {
    "flask app": lambda b, p: flask_app(b, p),
    "flask test client": lambda b, p: (lambda a, s: (a.test_client(), s))(*flask_app(b, p)),
    "fastapi app": lambda b, p: fastapi_app(b, p),
    "fastapi test client": lambda b, p: (lambda a, s: (TestClient(a), s))(*fastapi_app(b, p)),
}


def _make_customer(billing: Billing, owner: str) -> str:
    key = billing.config.owner_metadata_key
    return str(billing.stripe.v1.customers.create(params={"email": f"{owner}@b.co", "metadata": {key: owner}}).id)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("prefix", ["/billing", "/api/v2/stripe"])
def test_deliveries_go_through_the_apps_own_route(billing: Billing, target: str, prefix: str) -> None:
    via, seen = TARGETS[target](billing, prefix)
    endpoint = billing.testing.connect(via)
    assert billing.testing.url == f"http://testserver{prefix}/webhooks"     # found by the route's name
    cus = _make_customer(billing, "org_route")
    assert billing.customers.get(owner_id="org_route").id == cus          # delivered, verified, processed
    log = billing.emulator.webhooks.log
    assert [(a.endpoint_id, a.status) for a in log] == [(endpoint, 200)]
    assert seen == [f"POST {prefix}/webhooks"]
    assert billing.webhooks.events()[0].type == "customer.created"


def test_a_route_that_is_not_there_is_a_failed_delivery_retried_later(billing: Billing) -> None:
    app, seen = flask_app(billing)
    billing.testing.connect(app, url="http://testserver/nowhere/webhooks")
    _make_customer(billing, "org_404")
    assert [a.status for a in billing.emulator.webhooks.log] == [404]
    assert seen == ["POST /nowhere/webhooks"]
    assert billing.webhooks.events() == [] and len(billing.emulator.webhooks.pending()) == 1


def test_signed_with_the_configured_secret_so_a_rotated_secret_still_verifies(engine: Any, emulator: Any,
                                                                                  clock: Any) -> None:
    billing = Billing(engine=engine, emulator=emulator, clock=clock,
                      webhook_secrets=["whsec_new_secret_123", "whsec_old_secret_456"])
    app, _ = fastapi_app(billing)
    billing.testing.connect(app)
    assert emulator.webhooks.secret(billing.testing.endpoint_id) == "whsec_new_secret_123"
    _make_customer(billing, "org_secret")
    assert [a.status for a in emulator.webhooks.log] == [200]


def test_connecting_again_moves_the_one_endpoint(billing: Billing) -> None:
    flask, flask_seen = flask_app(billing)
    fast, fast_seen = fastapi_app(billing)
    first = billing.testing.connect()
    assert billing.testing.connect(flask) == first
    assert billing.testing.connect(fast) == first
    endpoints = billing.emulator.client().v1.webhook_endpoints.list().data
    assert [e.id for e in endpoints] == [first]
    _make_customer(billing, "org_once")
    assert [a.status for a in billing.emulator.webhooks.log] == [200]      # once, to the last target only
    assert (flask_seen, fast_seen) == ([], ["POST /billing/webhooks"])


def test_a_plain_receiver_function(billing: Billing) -> None:
    got: list[tuple[bytes, dict[str, str]]] = []
    billing.testing.connect(lambda body, headers: got.append((body, headers)) or 202)
    _make_customer(billing, "org_fn")
    assert len(got) == 1 and got[0][1]["Stripe-Signature"].startswith("t=")
    assert billing.webhooks.events() == []          # the function decided what to do with it


@pytest.fixture
def served(billing: Billing) -> Iterator[str]:
    app, _ = flask_app(billing)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/billing/webhooks"
    server.shutdown()
    thread.join()


def test_over_real_http_to_a_running_server(billing: Billing, served: str) -> None:
    billing.testing.connect(url=served)
    cus = _make_customer(billing, "org_http")
    assert billing.customers.get(owner_id="org_http").id == cus
    assert [a.status for a in billing.emulator.webhooks.log] == [200]


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"via": 5}, "via"), ({"via": "app"}, "via"), ({"via": {}}, "via"), ({"via": lambda: 200}, "via"),
    ({"url": "http://example.com/billing/webhooks"}, "url"), ({"url": "ftp://127.0.0.1/x"}, "url"),
    ({"mode": "later"}, "mode"),
])
def test_bad_targets_are_refused_and_create_nothing(billing: Billing, kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        billing.testing.connect(**kwargs)
    assert e.value.param == param
    assert billing.emulator.client().v1.webhook_endpoints.list().data == []
