"""The migrations produce exactly the models, on SQLite and PostgreSQL, and leave host tables alone."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from billingos.migrations import VERSION_TABLE, current_revision, downgrade, pending_diff, upgrade
from billingos.models import metadata
from tests.conftest import PG_URL, _need, _reachable


def _fresh_engines(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield "sqlite", create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    if not _reachable("127.0.0.1", 5432):
        _need("PostgreSQL", False)
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield "postgres", create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_match_models_exactly(tmp_path: Path, backend: str) -> None:
    gen = _fresh_engines(tmp_path)
    _, engine = next(gen)
    if backend == "postgres":
        _, engine = next(gen)
    try:
        with engine.begin() as c:  # a host table that billingos must never touch
            c.execute(text("CREATE TABLE host_users (id integer primary key, name text)"))
        upgrade(engine)
        assert pending_diff(engine) == []
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in metadata.sorted_tables} <= tables
        assert VERSION_TABLE in tables and "alembic_version" not in tables and "host_users" in tables
        assert current_revision(engine) is not None
        downgrade(engine, "base")
        left = set(inspect(engine).get_table_names())
        assert not {t.name for t in metadata.sorted_tables} & left and "host_users" in left
        upgrade(engine)
        assert pending_diff(engine) == []
    finally:
        engine.dispose()
        gen.close()


def test_every_table_is_prefixed_and_named() -> None:
    for table in metadata.sorted_tables:
        assert table.name.startswith("billing_"), table.name
        for c in table.constraints:
            assert c.name, f"unnamed constraint on {table.name}"


def test_cli_db_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    env = {**os.environ, "BILLINGOS_DATABASE_URL": f"sqlite:///{db}"}
    out = subprocess.run([sys.executable, "-m", "billingos", "db", "upgrade"], env=env, capture_output=True,
                         text=True, check=True)
    assert "billingos schema at" in out.stdout
    assert pending_diff(create_engine(f"sqlite:///{db}")) == []
    cur = subprocess.run([sys.executable, "-m", "billingos", "db", "current"], env=env, capture_output=True,
                         text=True, check=True)
    assert cur.stdout.strip() == out.stdout.split()[-1]


def test_cli_without_database_url_explains() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BILLINGOS_DATABASE_URL"}
    out = subprocess.run([sys.executable, "-m", "billingos", "db", "upgrade"], env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "--database-url" in out.stderr
