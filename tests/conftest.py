"""Shared fixtures. The core suite runs on SQLite always and on PostgreSQL/Redis when reachable.

Set BILLINGOS_REQUIRE_SERVICES=1 (CI does) to fail instead of skip when PostgreSQL or Redis is down.

Under pytest-xdist (``python3 dev.py test`` runs one worker per core) every worker has its own PostgreSQL
schema, its own Redis database, its own temporary folder for SQLite files and only ever binds port 0.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from billingos import Billing
from billingos.clock import FrozenClock
from billingos.emulator import Emulator

PG_URL = os.environ.get("BILLINGOS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: "gw0", "gw1"... in a pytest-xdist worker, "" in a single process.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_redis(url: str) -> str:
    """The worker's own Redis database (the base one + 1 + its number), so that rate-limit counters and
    cached keys of tests running at the same time never meet; channels are named per test already."""
    if not WORKER.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + 1 + int(WORKER[2:])) % 16}"))


REDIS_URL = _worker_redis(os.environ.get("BILLINGOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
REQUIRE = os.environ.get("BILLINGOS_REQUIRE_SERVICES") == "1"
WEBHOOK_SECRET = "whsec_test_billingos_0123456789"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _need(service: str, ok: bool) -> None:
    if not ok:
        if REQUIRE:
            pytest.fail(f"{service} is required (BILLINGOS_REQUIRE_SERVICES=1) but not reachable")
        pytest.skip(f"{service} not reachable")


@pytest.fixture(scope="session")
def pg_schema_engine() -> Iterator[Engine | None]:
    """One private PostgreSQL schema per test process (each xdist worker, each parallel run), so they never
    touch each other. Commits do not wait for the WAL flush: nothing here survives a crash on purpose."""
    if not _reachable("127.0.0.1", 5432):
        yield None
        return
    schema = f"billingos_test_{WORKER or 'main'}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema} -csynchronous_commit=off"},
                           pool_size=10, max_overflow=20)
    from billingos.migrations import upgrade
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once, copy per test: a fresh SQLite database costs a file copy."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    from billingos.migrations import upgrade
    upgrade(engine)
    engine.dispose()
    return path


def _truncate(engine: Engine) -> None:
    from billingos.models import metadata
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    if names:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty billingos database: SQLite, then PostgreSQL when reachable."""
    if request.param == "sqlite":
        db = tmp_path / "billing.db"
        shutil.copy(sqlite_template, db)
        from billingos.billing import _make_engine
        eng = _make_engine(f"sqlite:///{db}")
        yield eng
        eng.dispose()
        return
    pg = request.getfixturevalue("pg_schema_engine")
    _need("PostgreSQL", pg is not None)
    _truncate(pg)
    yield pg


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    db = tmp_path / "billing.db"
    shutil.copy(sqlite_template, db)
    from billingos.billing import _make_engine
    eng = _make_engine(f"sqlite:///{db}")
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def emulator(clock: FrozenClock) -> Emulator:
    return Emulator(clock=clock)


@pytest.fixture
def billing(engine: Engine, emulator: Emulator, clock: FrozenClock) -> Billing:
    """A Billing on a fresh database (SQLite and PostgreSQL) against a fresh emulator."""
    return Billing(engine=engine, emulator=emulator, clock=clock, webhook_secrets=[WEBHOOK_SECRET])


@pytest.fixture
def redis_url() -> str:
    host, port = "127.0.0.1", 6379
    _need("Redis", _reachable(host, port))
    return REDIS_URL
