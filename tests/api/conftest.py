"""The JSON API through both adapters: real HTTP through each framework's test client, real databases,
the real emulator. ``http`` is parametrized over Flask and FastAPI, so every test is the same behaviour
checked twice."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from billingos import Billing
from billingos.catalog.schemas import Catalog
from tests.usage.conftest import CATALOG as USAGE_CATALOG

CATALOG: dict[str, Any] = copy.deepcopy(USAGE_CATALOG)
CATALOG["features"].append({"key": "export", "name": "Export", "type": "boolean"})
CATALOG["products"][0]["features"].append({"key": "export"})
ALL = ["entitlements:read", "usage:write", "billing:read"]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Http:
    """One adapter's app, spoken to the same way whatever the framework."""

    kind: str
    billing: Billing
    prefix: str = "/billing"
    client: Any = None

    def __post_init__(self) -> None:
        if self.kind == "flask":
            from flask import Flask

            from billingos_flask import BillingOS
            app = Flask(__name__)
            app.config["BILLINGOS_URL_PREFIX"] = self.prefix
            BillingOS(app, billing=self.billing)
            self.client = app.test_client()
        else:
            from fastapi import FastAPI
            from fastapi.testclient import TestClient

            from billingos_fastapi import create_router
            app = FastAPI()
            app.include_router(create_router(self.billing, prefix=self.prefix))
            self.client = TestClient(app)

    def request(self, method: str, path: str, *, key: str | None = None, headers: dict[str, str] | None = None,
                params: dict[str, Any] | None = None, body: Any = None, raw: bytes | None = None) -> Answer:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if content is not None:
            sent.setdefault("Content-Type", "application/json")
        url = f"{self.prefix}/api/v1/{path}"
        if self.kind == "flask":
            r = self.client.open(url, method=method, query_string=params, headers=sent, data=content)
            return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.get_data(as_text=True))
        r = self.client.request(method, url, params=params, headers=sent, content=content)
        return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text)

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Answer:
        return self.request("POST", path, **kw)


@dataclass
class World:
    billing: Billing
    keys: dict[str, str] = field(default_factory=dict)      # name -> secret
    subs: dict[str, str] = field(default_factory=dict)      # owner -> subscription id

    def rows(self, table: str) -> int:
        with self.billing.engine.connect() as c:
            return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def build_world(billing: Billing) -> World:
    billing.catalog.sync(Catalog.model_validate(CATALOG))
    w = World(billing)
    for owner in ("org_a", "org_b"):
        c = billing.customers.create(owner_id=owner, email=f"{owner}@example.com", name=owner.upper())
        pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
        billing.customers.update(owner, default_payment_method=pm.id)
        w.subs[owner] = billing.subscriptions.create(owner, price="pro_monthly").id
    billing.customers.create(owner_id="org_none", email="none@example.com")
    w.keys["a"] = billing.api_keys.create("org a", ALL, owner_id="org_a").secret
    w.keys["b"] = billing.api_keys.create("org b", ALL, owner_id="org_b").secret
    w.keys["server"] = billing.api_keys.create("backend", ALL).secret
    w.keys["read"] = billing.api_keys.create("read only", ["billing:read"], owner_id="org_a").secret
    return w


@pytest.fixture
def world(billing: Billing) -> Iterator[World]:
    yield build_world(billing)
    billing.entitlements.close()


@pytest.fixture(params=["flask", "fastapi"])
def http(request: pytest.FixtureRequest, world: World) -> Http:
    return Http(request.param, world.billing)
