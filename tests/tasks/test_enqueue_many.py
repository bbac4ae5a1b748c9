"""jobs.enqueue_many: one statement for many jobs, each stored once; one run of the queue after the commit
(a single new job keeps the queue's own trigger); nothing stored or triggered when the transaction rolls back."""

from __future__ import annotations

import pytest

from billingos import Billing
from billingos.jobs import NewJob


def test_enqueue_many_stores_each_key_once_and_triggers_one_run(billing: Billing) -> None:
    handled: list[tuple[str, dict[str, int]]] = []
    triggered: list[str] = []
    billing.jobs.define("bulk_test", lambda jobs: handled.extend((j.key, j.payload) for j in jobs),
                        trigger=triggered.append)
    with billing.session_factory() as s, s.begin():
        new = billing.jobs.enqueue_many(s, "bulk_test", [NewJob("a", {"n": 1}), NewJob("b"), NewJob("a", {"n": 2})])
    assert new == {"a", "b"}
    assert triggered == []                                  # several new jobs: one jobs.run, not a trigger each
    assert handled == [("a", {"n": 1}), ("b", {})]          # the first row of a repeated key is the one stored
    assert billing.jobs.state("bulk_test", "a") == ("done", None)

    with billing.session_factory() as s, s.begin():
        assert billing.jobs.enqueue_many(s, "bulk_test", [NewJob("a"), NewJob("c")]) == {"c"}
    assert triggered == ["c"]                               # one new job: the queue's own trigger, as enqueue()
    assert billing.jobs.state("bulk_test", "c") == ("pending", None)

    with billing.session_factory() as s, s.begin():
        assert billing.jobs.enqueue_many(s, "bulk_test", [NewJob("d"), NewJob("e")], trigger=False) == {"d", "e"}
    assert triggered == ["c"] and len(handled) == 2
    assert billing.jobs.state("bulk_test", "d") == ("pending", None)


def test_enqueue_many_rolled_back_stores_and_triggers_nothing(billing: Billing) -> None:
    triggered: list[str] = []
    billing.jobs.define("bulk_rollback", lambda jobs: None, trigger=triggered.append)
    with pytest.raises(RuntimeError), billing.session_factory() as s, s.begin():
        billing.jobs.enqueue_many(s, "bulk_rollback", [NewJob("x")])
        raise RuntimeError("the caller's transaction fails")
    assert triggered == [] and billing.jobs.state("bulk_rollback", "x") is None
    with billing.session_factory() as s, s.begin():
        assert billing.jobs.enqueue_many(s, "bulk_rollback", []) == set()
