from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from billingos import FrozenClock
from billingos.customers import BillingCustomer
from billingos.db import on_commit, upsert


def test_frozen_clock_moves_only_forward() -> None:
    c = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert c.advance(days=31) == datetime(2026, 2, 1, tzinfo=UTC)
    assert c.now() == datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="backwards"):
        c.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="backwards"):
        c.set(datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 1, 1))


def _row(stripe_id: str, email: str) -> dict[str, object]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return {"stripe_id": stripe_id, "email": email, "balance": 0, "delinquent": False, "livemode": False,
            "stripe_metadata": {}, "data": {"id": stripe_id}, "synced_at": now}


def test_frozen_clock_rewinds_only_when_asked_and_through_set() -> None:
    clock = FrozenClock(datetime(2026, 5, 1, tzinfo=UTC))
    seen: list[datetime] = []

    class Persisted(FrozenClock):
        def set(self, when: datetime) -> datetime:
            seen.append(when)
            return super().set(when)

    with pytest.raises(ValueError):
        clock.set(datetime(2025, 1, 1, tzinfo=UTC))
    assert clock.rewind(datetime(2025, 1, 1, tzinfo=UTC)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert clock.now() == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.rewind(datetime(2025, 1, 1))
    persisted = Persisted(datetime(2026, 5, 1, tzinfo=UTC))
    persisted.rewind(datetime(2025, 3, 1, tzinfo=UTC))
    assert seen == [datetime(2025, 3, 1, tzinfo=UTC)]         # a subclass that saves its time sees the move


def test_upsert_inserts_then_updates_one_row(engine: Engine) -> None:
    factory = sessionmaker(bind=engine)
    with factory.begin() as s:
        first = upsert(s, BillingCustomer, _row("cus_1", "a@b.co"), key=["stripe_id"])
        assert first.email == "a@b.co"
        first_id = first.id
    with factory.begin() as s:
        second = upsert(s, BillingCustomer, _row("cus_1", "new@b.co"), key=["stripe_id"])
        assert second.email == "new@b.co" and second.id == first_id
    with factory() as s:
        assert [r.email for r in s.scalars(select(BillingCustomer))] == ["new@b.co"]


def test_on_commit_runs_after_commit_and_not_after_rollback(engine: Engine) -> None:
    factory = sessionmaker(bind=engine)
    ran: list[str] = []
    with factory.begin() as s:
        upsert(s, BillingCustomer, _row("cus_c", "c@b.co"), key=["stripe_id"])
        on_commit(s, lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]
    with pytest.raises(RuntimeError), factory.begin() as s:
        on_commit(s, lambda: ran.append("rolled back"))
        raise RuntimeError("host code failed")
    with factory.begin() as s:  # a later commit on a fresh session must not run dropped hooks
        pass
    assert ran == ["committed"]


def test_utc_datetime_refuses_naive_values(engine: Engine) -> None:
    factory = sessionmaker(bind=engine)
    row = _row("cus_n", "n@b.co")
    row["synced_at"] = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="aware"), factory.begin() as s:
        upsert(s, BillingCustomer, row, key=["stripe_id"])


def test_upsert_binds_none_and_defaults_like_values(engine: Engine) -> None:
    """The statement is built once per shape and the values bound per call: an explicit None is stored as
    NULL (not replaced by the column default, as the ORM bulk path would), an omitted column gets its default,
    and update=[] leaves the stored row as it is (DO NOTHING, then the row is read)."""
    factory = sessionmaker(bind=engine)
    with factory.begin() as s:
        row = _row("cus_d", "d@b.co")
        row.pop("balance")
        first = upsert(s, BillingCustomer, {**row, "name": None}, key=["stripe_id"])
        assert (first.balance, first.name, first.version) == (0, None, 1)
        named = upsert(s, BillingCustomer, {**row, "name": "Dee"}, key=["stripe_id"])
        assert named is first and named.name == "Dee"
        again = upsert(s, BillingCustomer, {**row, "name": None, "email": "x@b.co"}, key=["stripe_id"], update=[])
        assert again is first and (again.name, again.email) == ("Dee", "d@b.co")
        upsert(s, BillingCustomer, {**row, "name": None, "stripe_metadata": None}, key=["stripe_id"])
    with factory() as s:
        stored = s.scalars(select(BillingCustomer).where(BillingCustomer.stripe_id == "cus_d")).one()
        assert (stored.name, stored.email, stored.balance) == (None, "d@b.co", 0)
        assert stored.stripe_metadata is None          # JSON null as bound, not the column default {}
