"""The admin dashboard through both adapters: one behaviour suite, parametrized over Flask and FastAPI.

The world: a catalog of two plans with features, Alice (a card, a paid subscription), Bob (no plan), and one
dead webhook event (a host handler that failed until it is fixed). Requests carry ``X-Admin`` (what the
admin_loader returns) and ``X-Owner`` (what the customer_loader returns)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import Request

from billingos import Billing

ADMIN = {"X-Admin": "ops@example.com"}
CUSTOMER = {"X-Owner": "org_alice"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Client:
    """The same calls over Flask's test client and FastAPI's TestClient (cookies kept, no redirects followed)."""

    kind: str
    raw: Any
    headers: dict[str, str] = field(default_factory=lambda: dict(ADMIN))

    def get(self, path: str, *, headers: dict[str, str] | None = None, **query: str) -> Answer:
        h = self.headers if headers is None else headers
        extra = {} if not query else {"query_string": query} if self.kind == "flask" else {"params": query}
        return self._wrap(self.raw.get(path, headers=h, **extra))

    def post(self, path: str, data: dict[str, str], *, headers: dict[str, str] | None = None) -> Answer:
        h = self.headers if headers is None else headers
        return self._wrap(self.raw.post(path, data=data, headers=h))

    def token(self, path: str = "/billing/admin/reconcile") -> str:
        page = self.get(path)
        found = _TOKEN.search(page.text)
        assert found, f"no CSRF token on {path}: {page.status} {page.text[:300]}"
        return found.group(1)

    def submit(self, path: str, data: dict[str, str] | None = None) -> Answer:
        return self.post(path, {"csrf_token": self.token(), **(data or {})})

    def _wrap(self, r: Any) -> Answer:
        text = r.get_data(as_text=True) if self.kind == "flask" else r.text
        return Answer(r.status_code, text, {k.lower(): v for k, v in r.headers.items()})


def flask_client(billing: Billing, *, admin_loader: bool = True, login_url: str | None = None) -> Any:
    from flask import Flask, request

    from billingos_flask import BillingOS
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="admin-tests-secret-key-0123456789",
                      BILLINGOS_LOGIN_URL=login_url)
    ext = BillingOS(app, billing=billing)
    ext.customer_loader(lambda: request.headers.get("X-Owner"))
    if admin_loader:
        ext.admin_loader(lambda: request.headers.get("X-Admin"))
    return app.test_client()


def fastapi_client(billing: Billing, *, admin_loader: bool = True, login_url: str | None = None) -> Any:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from billingos_fastapi import create_router

    def owner(request: Request) -> str | None:
        return request.headers.get("x-owner")

    def admin(request: Request) -> str | None:
        return request.headers.get("x-admin")

    app = FastAPI()
    app.include_router(create_router(billing, customer_loader=owner, admin_loader=admin if admin_loader else None,
                                     secret_key="admin-tests-secret-key-0123456789", login_url=login_url))
    return TestClient(app, follow_redirects=False)


def make_client(kind: str, billing: Billing, **options: Any) -> Client:
    return Client(kind, (flask_client if kind == "flask" else fastapi_client)(billing, **options))


@dataclass
class World:
    billing: Billing
    alice: Any
    bob: Any
    subscription: Any
    invoice: Any
    dead_event: str
    broken: dict[str, bool]
    api_key: str


def build_world(billing: Billing) -> World:
    billing.catalog.sync({
        "features": [{"key": "reports", "name": "Reports"}, {"key": "exports", "name": "Exports"},
                     {"key": "api_calls", "name": "API calls", "type": "metered"}],
        "products": [
            {"key": "basic", "name": "Basic", "features": [{"key": "reports"}, {"key": "api_calls", "limit": 1000}],
             "prices": [{"lookup_key": "basic_monthly", "currency": "usd", "unit_amount": 1000,
                         "interval": "month"}]},
            {"key": "pro", "name": "Pro", "features": [{"key": "reports"}, {"key": "exports"},
                                                      {"key": "api_calls", "limit": 10000}],
             "prices": [{"lookup_key": "pro_monthly", "currency": "usd", "unit_amount": 3000,
                         "interval": "month"}]}]})
    billing.testing.connect()
    broken = {"on": True}

    def flaky(ctx: Any) -> None:
        if broken["on"] and ctx.object.get("name") == "Bob Broken":
            raise RuntimeError("host handler failed: bob's CRM is down")

    billing.webhooks.subscribe("customer.updated", flaky)
    billing.webhooks.max_attempts = 1
    alice = billing.customers.create(owner_id="org_alice", email="Alice@Example.com", name="Alice Anders")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": alice.id})
    alice = billing.customers.update("org_alice", default_payment_method=pm.id)
    sub = billing.subscriptions.create(alice, price="basic_monthly")
    bob = billing.customers.create(owner_id="org_bob", email="bob@example.org", name="Bob")
    billing.customers.update("org_bob", name="Bob Broken")
    billing.testing.drain()
    dead = [e for e in billing.webhooks.events(status="dead") if e.type == "customer.updated"]
    assert dead, billing.webhooks.events()
    invoice = billing.invoices.list("org_alice")[0]
    assert invoice.status == "paid"
    key = billing.api_keys.create("CRM sync", ["billing:read"]).key.id
    return World(billing, alice, bob, billing.subscriptions.get(sub.id), invoice, dead[0].id, broken, key)


@pytest.fixture
def world(billing: Billing) -> World:
    return build_world(billing)


@pytest.fixture(params=["flask", "fastapi"])
def client(request: pytest.FixtureRequest, world: World) -> Iterator[Client]:
    yield make_client(request.param, world.billing)


@pytest.fixture(scope="session")
def analytics_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, int]]:
    """The seeded year (tests/admin/analytics_seed.py) in a SQLite file, played once per session (about 15 s
    of CPU); each test gets its own copy through ``analytics_billing``."""
    from billingos.clock import FrozenClock
    from billingos.emulator import Emulator
    from tests.conftest import WEBHOOK_SECRET

    from .analytics_seed import START, seed
    path = tmp_path_factory.mktemp("analytics") / "seeded.db"
    clock = FrozenClock(START)
    billing = Billing(database_url=f"sqlite:///{path}", emulator=Emulator(clock=clock), clock=clock,
                      webhook_secrets=[WEBHOOK_SECRET])
    billing.migrate()
    facts = seed(billing)
    billing.close()
    return path, facts


@pytest.fixture
def analytics_billing(analytics_db: tuple[Any, dict[str, int]], tmp_path: Any) -> Billing:
    """A Billing over a copy of the seeded year, its clock at the year's end (the emulator is a fresh one:
    the analytics pages read only the database)."""
    import shutil

    from billingos.clock import FrozenClock
    from billingos.emulator import Emulator

    from .analytics_seed import END
    copy = tmp_path / "analytics.db"
    shutil.copy(analytics_db[0], copy)
    clock = FrozenClock(END)
    return Billing(database_url=f"sqlite:///{copy}", emulator=Emulator(clock=clock), clock=clock)
