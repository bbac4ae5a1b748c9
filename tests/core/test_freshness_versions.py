"""The freshness protocol's statements (built once, values bound per call) on SQLite and PostgreSQL: a lock
counts one applied state each time, a claim succeeds only at the version it saw."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from billingos.freshness import claim_fresh, lock_object, read_versions


def test_lock_then_claim_count_versions(engine: Engine) -> None:
    factory = sessionmaker(engine)
    with factory.begin() as s:
        assert read_versions(s, ["sub_1", "sub_2"]) == {"sub_1": 0, "sub_2": 0}
        lock_object(s, "sub_1")                       # new row: one applied state
    with factory.begin() as s:
        lock_object(s, "sub_1")
        lock_object(s, "sub_1")
        assert read_versions(s, ["sub_1"]) == {"sub_1": 3}
        assert claim_fresh(s, "sub_2", 0)              # never applied: inserted at 1
        assert not claim_fresh(s, "sub_2", 0)          # someone applied a state since: refused
        assert not claim_fresh(s, "sub_1", 2)
        assert claim_fresh(s, "sub_1", 3)
    with factory() as s:
        assert read_versions(s, ["sub_2", "sub_1", "sub_3"]) == {"sub_2": 1, "sub_1": 4, "sub_3": 0}
        assert list(read_versions(s, ["sub_2", "sub_1", "sub_3"])) == ["sub_2", "sub_1", "sub_3"]
