"""Billing.close(): releases what Billing built (its engine, Redis and the invalidation listener thread,
held jobs), leaves what the host passed in, and turns later calls into BillingClosedError, except
feature checks, which answer by each feature's failure policy and never raise."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from billingos import Billing, BillingClosedError, ConfigurationError
from billingos.clock import FrozenClock
from billingos.emulator import Emulator

from .conftest import PG_URL, _need, _reachable

LISTENER = "billingos-entitlements-invalidation"


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


# --- what close() releases ----------------------------------------------------------------------------
def test_close_stops_the_listener_thread_and_its_subscription(tmp_path: Path, redis_url: str) -> None:
    import redis as redis_lib
    name = f"billingos-close-{uuid.uuid4().hex[:12]}"       # tags this Billing's Redis connections
    named_url = f"{redis_url}{'&' if '?' in redis_url else '?'}client_name={name}"
    billing = Billing(database_url=f"sqlite:///{tmp_path / 'b.db'}", stripe_emulator=True, redis_url=named_url)
    billing.entitlements.configure(redis_namespace=f"billingos-test:{uuid.uuid4().hex[:12]}")
    cache = billing.entitlements.cache
    assert cache.wait_listening()
    thread = cache._listener
    assert thread is not None and thread.name == LISTENER and thread in threading.enumerate()
    probe = redis_lib.Redis.from_url(redis_url)

    def subscribers() -> int:
        return int(probe.pubsub_numsub(cache.channel)[0][1])

    def connections() -> int:
        return sum(1 for c in probe.client_list() if c.get("name") == name)

    try:
        assert billing.has_feature("org_1", "export") is False   # one MGET on the client's own connection
        assert subscribers() == 1 and connections() == 2
        billing.close()
        assert cache._listener is None and not thread.is_alive() and thread not in threading.enumerate()
        deadline = time.monotonic() + 2
        while (subscribers() or connections()) and time.monotonic() < deadline:   # Redis notices asynchronously
            time.sleep(0.02)
        assert subscribers() == 0 and connections() == 0
        # a check after close must not reconnect or start a new listener
        listeners = {t for t in threading.enumerate() if t.name == LISTENER}   # other tests' Billings
        assert billing.has_feature("org_1", "export") is False
        assert not cache.wait_listening(0.1) and cache._listener is None
        assert {t for t in threading.enumerate() if t.name == LISTENER} <= listeners
        assert subscribers() == 0 and connections() == 0
        billing.close()                                     # twice is fine
    finally:
        billing.close()
        probe.close()


@pytest.mark.parametrize("kind", ["sqlite_file", "sqlite_memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_close_disposes_the_engine_it_built_and_refuses_new_connections(tmp_path: Path, kind: str) -> None:
    if kind == "postgres":
        _need("PostgreSQL", _reachable("127.0.0.1", 5432))
    url = {"sqlite_file": f"sqlite:///{tmp_path / 'b.db'}", "sqlite_memory": "sqlite://", "postgres": PG_URL}[kind]
    billing = Billing(database_url=url, stripe_emulator=True)
    engine = billing.engine
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    pool = engine.pool
    pooled = kind != "sqlite_memory"     # StaticPool keeps its one connection outside any count
    if pooled:
        assert pool.checkedin() == 1      # type: ignore[attr-defined]
    billing.close()
    if pooled:
        assert pool.checkedin() == 0      # type: ignore[attr-defined]
    assert engine.pool is not pool        # disposed: the old pool is gone ...
    with pytest.raises(BillingClosedError):
        engine.connect()                  # ... and the engine does not quietly build a new one


def test_a_host_engine_and_a_host_sessionmaker_stay_usable(engine: Engine, emulator: Emulator,
                                                           clock: FrozenClock) -> None:
    billing = Billing(engine=engine, emulator=emulator, clock=clock)
    billing.customers.create(owner_id="org_h", email="h@example.com")
    billing.close()
    assert _count(engine, "billing_customers") == 1        # the host's engine still connects
    with pytest.raises(BillingClosedError):
        billing.customers.get(owner_id="org_h")             # though this Billing no longer does

    factory = sessionmaker(bind=engine)
    other = Billing(session_factory=factory, emulator=emulator, clock=clock)
    assert other.customers.get(owner_id="org_h").email == "h@example.com"
    other.close()
    with factory() as session:
        assert session.execute(text("SELECT COUNT(*) FROM billing_customers")).scalar_one() == 1


def test_close_drops_held_jobs_and_refuses_new_ones(billing: Billing, caplog: pytest.LogCaptureFixture) -> None:
    billing.tasks.deferred = True
    billing.tasks.enqueue("entitlements.refresh", "org_1")
    with caplog.at_level(logging.WARNING, logger="billingos.tasks"):
        billing.close()
    assert billing.tasks.queued == [] and "entitlements.refresh" in caplog.text
    with pytest.raises(BillingClosedError):
        billing.tasks.enqueue("entitlements.refresh", "org_1")
    with pytest.raises(BillingClosedError):
        billing.tasks.run_queued()


# --- calls after close ---------------------------------------------------------------------------------
def test_calls_after_close_raise_billing_closed_and_write_nothing(billing: Billing, engine: Engine) -> None:
    billing.usage.define_meter("api_calls", aggregation="sum")
    billing.customers.create(owner_id="org_1", email="a@example.com")
    billing.usage.track("org_1", "api_calls", 1, "k1")      # meter and limit caches are now warm
    stripe_customers = len(billing.emulator.store.all("customer"))
    billing.close()
    calls = {
        "customers.create": lambda: billing.customers.create(owner_id="org_2", email="b@example.com"),
        "customers.get": lambda: billing.customers.get(owner_id="org_1"),
        "track": lambda: billing.usage.track("org_1", "api_calls", 1, "k2"),
        "track with the host's session": lambda: billing.usage.track("org_1", "api_calls", 1, "k3",
                                                                     session=Session(bind=engine)),
        "track_many with the host's session": lambda: billing.usage.track_many(
            [{"owner_id": "org_1", "meter": "api_calls", "value": 1, "idempotency_key": "k4"}],
            session=Session(bind=engine)),
        "consume": lambda: billing.consume("org_1", "api_calls", 1, "c1"),
        "transaction": lambda: billing.transaction().__enter__(),
        "stripe": lambda: billing.stripe,
        "migrate": billing.migrate,
        "register_tasks": lambda: billing.register_tasks(object()),
    }
    for name, call in calls.items():
        with pytest.raises(BillingClosedError) as caught:
            call()
        assert isinstance(caught.value, ConfigurationError), name
        assert caught.value.status == 503 and caught.value.to_problem()["status"] == 503, name
    assert len(billing.emulator.store.all("customer")) == stripe_customers    # nothing reached Stripe
    assert _count(engine, "billing_customers") == 1 and _count(engine, "billing_usage_events") == 1


def test_has_feature_after_close_answers_by_policy_without_touching_a_backend(billing: Billing,
                                                                              engine: Engine) -> None:
    billing.catalog.sync({"features": [{"key": k, "name": k.title()} for k in ("reports", "sso", "export")]})
    billing.entitlements.grant("org_a", "reports")
    billing.entitlements.grant("org_a", "sso")
    billing.entitlements.set_policy("sso", "closed")
    billing.entitlements.set_policy("export", "open")
    assert billing.has_feature("org_a", "reports") and billing.has_feature("org_a", "sso")
    assert not billing.has_feature("org_a", "export")
    billing.close()
    checkouts: list[object] = []

    def on_checkout(*_: object) -> None:
        checkouts.append(_)

    event.listen(engine, "checkout", on_checkout)
    try:
        assert billing.has_feature("org_a", "reports") is True            # last_known: this process's answer
        assert billing.check("org_a", "reports").reason == "last_known"
        assert billing.has_feature("org_a", "sso") is False               # closed
        assert billing.check("org_a", "sso").reason == "fail_closed"
        assert billing.has_feature("org_a", "export") is True             # open
        assert billing.check("org_a", "export").reason == "fail_open"
        assert billing.has_feature("org_new", "reports") is False         # last_known, nothing known: deny
        assert billing.has_feature(None, "reports") is False              # type: ignore[arg-type]
        assert checkouts == []
    finally:
        event.remove(engine, "checkout", on_checkout)


# --- the context manager --------------------------------------------------------------------------------
def test_the_context_manager_closes_on_exit_and_on_error(tmp_path: Path) -> None:
    with Billing(database_url=f"sqlite:///{tmp_path / 'a.db'}", stripe_emulator=True) as billing:
        assert not billing.closed
        billing.migrate()
        billing.customers.create(owner_id="org_1")
    assert billing.closed and repr(billing).endswith("closed>")
    with pytest.raises(BillingClosedError):
        billing.engine.connect()
    billing.close()                                          # a no-op

    with pytest.raises(RuntimeError, match="boom"), \
            Billing(database_url=f"sqlite:///{tmp_path / 'b.db'}", stripe_emulator=True) as failing:
        raise RuntimeError("boom")
    assert failing.closed


# --- adapters and the example app ---------------------------------------------------------------------
def test_adapters_answer_a_503_problem_after_close(billing: Billing) -> None:
    from fastapi import FastAPI, Header
    from fastapi.testclient import TestClient
    from flask import Flask, request

    from billingos_fastapi import create_router
    from billingos_flask import BillingOS

    billing.customers.create(owner_id="org_1")
    flask_app = Flask(__name__)
    ext = BillingOS(flask_app, billing=billing)
    ext.customer_loader(lambda: request.headers.get("X-Owner"))

    def owner(x_owner: str | None = Header(None)) -> str | None:
        return x_owner

    api = FastAPI()
    api.include_router(create_router(billing, customer_loader=owner))
    with TestClient(api) as client:
        assert client.get("/billing/customer", headers={"X-Owner": "org_1"}).status_code == 200
    assert not billing.closed                                # the router never closes the host's Billing
    billing.close()
    flask_answer = flask_app.test_client().get("/billing/customer", headers={"X-Owner": "org_1"})
    fastapi_answer = TestClient(api).get("/billing/customer", headers={"X-Owner": "org_1"})
    assert (flask_answer.status_code, fastapi_answer.status_code) == (503, 503)
    for body in (flask_answer.get_json(), fastapi_answer.json()):
        assert body["type"] == "https://billingos.dev/errors/billing_closed" and body["status"] == 503


def test_a_fastapi_lifespan_closes_billing_on_shutdown(billing: Billing) -> None:
    """The pattern docs/configuration.md gives FastAPI hosts."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from billingos_fastapi import create_router

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        billing.close()

    app = FastAPI(lifespan=lifespan)
    app.include_router(create_router(billing))
    with TestClient(app):
        assert not billing.closed
    assert billing.closed


@pytest.fixture
def quiet_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from flask import Flask
    monkeypatch.setattr(Flask, "run", lambda self, **kw: None)   # as if the dev server stopped at once
    monkeypatch.setenv("PORT", "5001")
    yield


def test_the_example_app_closes_billing_when_its_server_stops(quiet_run: None, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import example_app.__main__ as entry
    from example_app import create_app
    made = []

    def create(config: dict[str, Any]) -> Any:
        made.append(create_app({**config, "TESTING": True}))
        return made[-1]

    monkeypatch.setattr(entry, "create_app", create)
    assert entry.main(["--fresh", "--instance", str(tmp_path / "instance")]) == 0     # no seeding: an empty app
    assert made[0].extensions["billingos"].billing_for(made[0]).closed
