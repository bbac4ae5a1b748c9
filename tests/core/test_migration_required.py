"""Issue 8 item 11: before migrate(), every call that needs billingos's tables raises MigrationRequiredError
(a BillingError saying to run ``billing.migrate()`` or ``billingos db upgrade``), not sqlite3's or psycopg's
error with an SQL dump. One translation at the engine, so it holds for every service."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from billingos import Billing, BillingError, MigrationRequiredError
from tests.conftest import PG_URL, _need, _reachable


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database billingos never migrated."""
    if request.param == "sqlite":
        yield create_engine("sqlite://")
        return
    _need("PostgreSQL", _reachable("127.0.0.1", 5432))
    schema = f"billingos_empty_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _calls(b: Billing) -> dict[str, Callable[[], Any]]:
    return {
        "customers.create": lambda: b.customers.create(owner_id="org_1", email="a@b.co"),
        "customers.get": lambda: b.customers.get(owner_id="org_1"),
        "customers.list": lambda: b.customers.list(),
        "subscriptions.list": lambda: b.subscriptions.list("org_1"),
        "subscriptions.get": lambda: b.subscriptions.get("sub_123"),
        "invoices.list": lambda: b.invoices.list("org_1"),
        "webhooks.events": lambda: b.webhooks.events(),
        "reconcile": lambda: b.reconcile(),
        "catalog.products": lambda: b.catalog.products(),
        "entitlements.grant": lambda: b.entitlements.grant("org_1", "sso"),
        "usage.track": lambda: b.usage.track("org_1", "api_calls", 1, idempotency_key="k1"),
        "jobs.run_due": lambda: b.jobs.run_due() if hasattr(b.jobs, "run_due") else b.jobs.state("webhooks", "k"),
    }


@pytest.mark.parametrize("name", list(_calls(Billing(database_url="sqlite://", stripe_emulator=True))))
def test_calls_before_migrate_say_to_migrate(empty: Engine, name: str) -> None:
    b = Billing(engine=empty, stripe_emulator=True)
    with pytest.raises(MigrationRequiredError) as e:
        _calls(b)[name]()
    assert isinstance(e.value, BillingError)
    message = str(e.value)
    assert "billing.migrate()" in message and "billingos db upgrade" in message
    assert "SELECT" not in message and "INSERT" not in message and "\n" not in message
    assert e.value.to_problem()["status"] == 503


def test_after_migrate_the_same_calls_work(empty: Engine) -> None:
    b = Billing(engine=empty, stripe_emulator=True)
    b.migrate()
    assert b.customers.create(owner_id="org_1", email="a@b.co").owner_id == "org_1"


def test_the_hosts_own_tables_are_left_alone(empty: Engine) -> None:
    """The translation is about billingos's tables only: the host's errors on a shared engine pass through."""
    Billing(engine=empty, stripe_emulator=True)
    with pytest.raises(Exception) as e, empty.connect() as c:
        c.execute(text("SELECT * FROM host_orders"))
    assert not isinstance(e.value, BillingError)


def test_the_translation_is_one_mechanism() -> None:
    """No service catches "no such table" itself: the engine hook is the one place."""
    import billingos
    root = inspect.getfile(billingos).rsplit("/", 1)[0]
    from pathlib import Path
    hits = [str(p) for p in Path(root).rglob("*.py") if "no such table" in p.read_text()]
    assert [h.rsplit("billingos/", 1)[1] for h in hits] == ["schema_guard.py"]
