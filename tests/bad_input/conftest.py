"""One world per backend, shared by the module: every swept call is refused, so none changes it. A call
that did write marks the world dirty, and the next test gets a fresh one (so one defect cannot cascade)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import _need, _truncate

from .world import World, build


class Worlds:
    def __init__(self, make: Callable[[], World]) -> None:
        self._make = make
        self._world: World | None = None

    def get(self) -> World:
        if self._world is not None and self._world.dirty:
            self.close()
        if self._world is None:
            self._world = self._make()
        return self._world

    def close(self) -> None:
        if self._world is not None:
            self._world.billing.close()
            self._world = None


@pytest.fixture(scope="module")
def sqlite_worlds(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    from billingos.billing import _make_engine
    engines: list[Engine] = []

    def make() -> World:
        tmp = tmp_path_factory.mktemp("sweep")
        shutil.copy(sqlite_template, tmp / "billing.db")
        engines.append(_make_engine(f"sqlite:///{tmp / 'billing.db'}"))
        return build(engines[-1], tmp)

    worlds = Worlds(make)
    yield worlds
    worlds.close()
    for engine in engines:
        engine.dispose()


@pytest.fixture(scope="module")
def postgres_worlds(pg_schema_engine: Engine | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    _need("PostgreSQL", pg_schema_engine is not None)
    assert pg_schema_engine is not None
    engine = pg_schema_engine

    def make() -> World:
        _truncate(engine)
        return build(engine, tmp_path_factory.mktemp("sweep"))

    worlds = Worlds(make)
    yield worlds
    worlds.close()
    _truncate(engine)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest) -> World:
    worlds: Worlds = request.getfixturevalue(f"{request.param}_worlds")
    return worlds.get()
