"""billing.usage.track_many: COPY on PostgreSQL, batched executemany on SQLite; duplicates dropped; all or
nothing on bad input; summaries and thresholds as if tracked one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from billingos import Billing
from billingos.errors import InvalidInputError
from billingos.usage.models import BillingUsageEvent, BillingUsageKey


def _ev(i: int, owner: str = "org_1", meter: str = "api_calls", value: int = 1, **kw) -> dict:
    return {"owner_id": owner, "meter": meter, "value": value, "idempotency_key": f"k{i}", **kw}


def _count(billing: Billing) -> tuple[int, int]:
    with billing.session_factory() as s:
        return (s.scalar(select(func.count()).select_from(BillingUsageEvent)) or 0,
                s.scalar(select(func.count()).select_from(BillingUsageKey)) or 0)


def test_bulk_load_and_duplicates(catalog: Billing) -> None:
    usage = catalog.usage
    events = [_ev(i, owner=f"org_{i % 3}", value=i) for i in range(3000)]
    r = usage.track_many(events + events[:10])                       # duplicates within the batch
    assert (r.inserted, r.duplicates) == (3000, 10)
    r2 = usage.track_many([*events[:100], _ev(5000, value=7)])       # duplicates of earlier batches
    assert (r2.inserted, r2.duplicates) == (1, 100)
    assert usage.track("org_1", "api_calls", 1, "k5").duplicate      # track sees bulk keys too
    for o in range(3):
        expected = sum(i for i in range(3000) if i % 3 == o) + (7 if o == 1 else 0)
        assert usage.total(f"org_{o}", "api_calls") == expected
    assert _count(catalog) == (3001, 3001)
    (s,) = usage.summaries("org_0")
    assert s.events == 1000


def test_retried_batch_with_new_events_in_the_middle(catalog: Billing) -> None:
    """A retry whose first and last keys are stored already: the stored keys are dropped up front (one
    query) and only the new ones are loaded."""
    usage = catalog.usage
    first = [_ev(i, value=1) for i in range(3000)]
    assert usage.track_many(first).inserted == 3000
    retry = first[:1000] + [_ev(10_000 + i, value=2) for i in range(1000)] + first[2000:]
    r = usage.track_many(retry)
    assert (r.inserted, r.duplicates) == (1000, 2000)
    assert usage.total("org_1", "api_calls") == 3000 + 2000
    assert _count(catalog) == (4000, 4000)


def test_stored_key_the_sample_misses_takes_the_exact_path(catalog: Billing) -> None:
    """Only a key between the sampled ones is stored: the COPY hits the keys' primary key, rolls back to
    its savepoint and the batch goes through the insert-ignore stage, still counting each key once."""
    usage = catalog.usage
    assert usage.track_many([_ev(50, value=5)]).inserted == 1
    r = usage.track_many([_ev(i, value=1) for i in range(100)])
    assert (r.inserted, r.duplicates) == (99, 1)
    assert usage.total("org_1", "api_calls") == 5 + 99
    assert _count(catalog) == (100, 100)


def test_bulk_aggregations_match_single_tracking(catalog: Billing) -> None:
    usage = catalog.usage
    usage.define_meter("peak", aggregation="max")
    usage.define_meter("users", aggregation="unique_count", unique_by="u")
    t0 = catalog.now() - timedelta(hours=1)
    rows = []
    for i, v in enumerate([5, 2, 8, 3]):
        ts = t0 + timedelta(minutes=i)
        rows += [_ev(100 + i, meter="peak", value=v, timestamp=ts),
                 _ev(200 + i, meter="seats_peak", value=v, timestamp=ts),
                 _ev(300 + i, meter="logins", value=v, timestamp=ts),
                 _ev(400 + i, meter="users", properties={"u": "ab"[i % 2]})]
    usage.track("org_1", "users", 1, "u_first", properties={"u": "z"})
    usage.track_many(rows)
    assert usage.total("org_1", "peak") == 8
    assert usage.total("org_1", "seats_peak") == 3
    assert usage.total("org_1", "logins") == 4
    assert usage.total("org_1", "users") == 3


@pytest.mark.parametrize("bad,param", [
    ({"value": -1}, "events[1]"),
    ({"timestamp": datetime(2026, 1, 1)}, "events[1]"),                      # naive
    ({"timestamp": datetime(2025, 6, 1, tzinfo=UTC)}, "events[1]"),          # outside the grace window
    ({"meter": "nope"}, "events[1]"),
    ({"idempotency_key": ""}, "events[1]"),
    ({"colour": "red"}, "events[1]"),
])
def test_one_bad_event_writes_nothing(catalog: Billing, bad: dict, param: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        catalog.usage.track_many([_ev(0), {**_ev(1), **bad}, _ev(2)])
    assert exc.value.param == param
    assert _count(catalog) == (0, 0)
    assert catalog.usage.summaries("org_1") == []


def test_empty_and_non_mapping_input(catalog: Billing) -> None:
    assert catalog.usage.track_many([]).inserted == 0
    with pytest.raises(InvalidInputError) as exc:
        catalog.usage.track_many(["nope"])  # type: ignore[list-item]
    assert exc.value.param == "events[0]"
    for not_a_list in (5, "abc", {"owner_id": "org_1"}, None):
        with pytest.raises(InvalidInputError) as exc:
            catalog.usage.track_many(not_a_list)  # type: ignore[arg-type]
        assert exc.value.param == "events"
    assert _count(catalog) == (0, 0)


def test_events_may_be_any_iterable(catalog: Billing) -> None:
    r = catalog.usage.track_many(_ev(i, value=2) for i in range(5))
    assert (r.inserted, r.duplicates) == (5, 0)
    assert catalog.usage.total("org_1", "api_calls") == 10


def test_error_names_the_callers_index_after_dropped_repeats(catalog: Billing) -> None:
    """Repeats are dropped before periods are picked; a late event is still named by its own position."""
    late = datetime(2025, 6, 1, tzinfo=UTC)
    with pytest.raises(InvalidInputError) as exc:
        catalog.usage.track_many([_ev(0), _ev(0), _ev(0), _ev(1, timestamp=late)])
    assert exc.value.param == "events[3]"
    assert _count(catalog) == (0, 0)


def test_bad_event_deep_in_a_streamed_load_leaves_the_host_transaction_usable(catalog: Billing) -> None:
    """On PostgreSQL the keys stream to the server while they are validated: an error after several COPY
    blocks cancels the COPY and rolls back to the load's savepoint. The host's own writes in the same
    transaction survive and commit."""
    events = [_ev(i) for i in range(5000)]
    events[4500] = {**events[4500], "value": "lots"}
    with catalog.transaction() as s:
        catalog.usage.track("org_1", "api_calls", 3, "host_write", session=s)
        with pytest.raises(InvalidInputError) as exc:
            catalog.usage.track_many(events, session=s)
        assert exc.value.param == "events[4500]"
    assert _count(catalog) == (1, 1)
    assert catalog.usage.total("org_1", "api_calls") == 3


def test_late_event_after_the_copies_rolls_everything_back(catalog: Billing) -> None:
    """The grace window is checked while the server inserts the events: refusing one then still leaves
    no key, no event and no summary behind."""
    events = [_ev(i) for i in range(4999)] + [_ev(9999, timestamp=datetime(2025, 6, 1, tzinfo=UTC))]
    with pytest.raises(InvalidInputError) as exc:
        catalog.usage.track_many(events)
    assert exc.value.param == "events[4999]"
    assert _count(catalog) == (0, 0)
    assert catalog.usage.summaries("org_1") == []


def test_more_owners_than_one_statement_takes(catalog: Billing) -> None:
    """33,000 owners in one load: more than SQLite's 32,766 parameters per statement."""
    n = 33_000
    r = catalog.usage.track_many([_ev(i, owner=f"o{i}", value=1 + i % 3) for i in range(n)])
    assert r.inserted == n
    assert catalog.usage.total("o32999", "api_calls") == 1 + 32999 % 3
    with catalog.session_factory() as s:
        from billingos.usage.models import BillingUsageSummary
        assert s.scalar(select(func.count()).select_from(BillingUsageSummary)) == n


def test_bulk_spans_periods(catalog: Billing) -> None:
    catalog.clock.set(datetime(2026, 2, 1, 0, 30, tzinfo=UTC))
    catalog.usage.track_many([_ev(1, value=3, timestamp=datetime(2026, 1, 31, 23, 59, tzinfo=UTC)),
                              _ev(2, value=4)])
    got = [(s.period_start.month, s.value) for s in catalog.usage.summaries("org_1")]
    assert got == [(2, 4), (1, 3)]


@pytest.mark.postgres
def test_postgres_partitions(catalog: Billing) -> None:
    if catalog.engine.dialect.name != "postgresql":
        pytest.skip("declarative partitioning is PostgreSQL's")
    catalog.usage.track("org_1", "api_calls", 1, "jan")
    catalog.clock.set(datetime(2026, 2, 1, 0, 10, tzinfo=UTC))
    catalog.usage.track_many([_ev(1, timestamp=datetime(2026, 1, 31, 23, 59, tzinfo=UTC)), _ev(2)])
    with catalog.engine.connect() as c:
        where = dict(c.execute(text("SELECT idempotency_key, tableoid::regclass::text FROM billing_usage_events"))
                     .all())
        parts = {r[0] for r in c.execute(text(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'billing_usage_events'::regclass"))}
    # created by the migration for the real current month; these test months sit in the default partition
    assert "billingos_usage_events_default" in parts
    assert set(where) == {"jan", "k1", "k2"}
    assert catalog.usage.create_partitions(months_ahead=1) >= 0
    with catalog.engine.connect() as c:
        parts = {r[0] for r in c.execute(text(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'billing_usage_events'::regclass"))}
        now_month = c.execute(text("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')")).scalar()
    assert f"billingos_usage_events_p{now_month}" in parts


@pytest.mark.postgres
def test_partition_function_moves_rows_out_of_the_default(catalog: Billing) -> None:
    if catalog.engine.dialect.name != "postgresql":
        pytest.skip("declarative partitioning is PostgreSQL's")
    with catalog.engine.begin() as c:
        future = c.execute(text("SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + interval '5 months'")).scalar()
        c.execute(text("INSERT INTO billing_usage_events VALUES ('o', 'm', :ts, 'fut', 1, NULL, NULL, NULL, now())"),
                  {"ts": future.replace(tzinfo=UTC) + timedelta(days=2)})
        assert c.execute(text("SELECT tableoid::regclass::text FROM billing_usage_events WHERE idempotency_key = 'fut'")
                         ).scalar() == "billingos_usage_events_default"
    assert catalog.usage.create_partitions(months_ahead=6) >= 1
    with catalog.engine.connect() as c:
        home = c.execute(text("SELECT tableoid::regclass::text FROM billing_usage_events WHERE idempotency_key = 'fut'")
                         ).scalar()
    assert home == f"billingos_usage_events_p{future:%Y%m}"
    with pytest.raises(InvalidInputError):
        catalog.usage.create_partitions(months_ahead=-1)


def test_bulk_values_with_characters_copy_must_escape(catalog: Billing) -> None:
    owner = 'org\\with "quotes", {braces} and é✓'      # owner ids are printable: no tab or newline
    props = {"path": "C:\\temp\\x", "quote": 'say "hi"', "nl": "a\nb", "tab": "a\tb", "uni": "é✓"}
    r = catalog.usage.track_many([_ev(1, owner=owner, value=5, properties=props),
                                  {**_ev(2, owner=owner, value=2), "idempotency_key": "k\\2"}])
    assert r.inserted == 2
    assert catalog.usage.total(owner, "api_calls") == 7
    with catalog.session_factory() as s:
        got = s.scalars(select(BillingUsageEvent).where(BillingUsageEvent.idempotency_key == "k1")).one()
        assert (got.owner_id, got.properties) == (owner, props)
        assert s.scalar(select(BillingUsageKey.idempotency_key).where(BillingUsageKey.idempotency_key == "k\\2"))


@pytest.mark.postgres
def test_concurrent_overlapping_loads_count_each_key_once(catalog: Billing) -> None:
    """Two writers load overlapping batches at once: one COPY wins, the other hits the keys' primary key,
    rolls back to its savepoint and goes through the insert-ignore stage."""
    if catalog.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL path")
    import threading
    batches = [[_ev(i, value=1) for i in range(0, 3000)], [_ev(i, value=1) for i in range(1500, 4500)]]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def load(evs: list) -> None:
        try:
            barrier.wait()
            results.append(catalog.usage.track_many(evs))
        except BaseException as e:  # pragma: no cover - asserted below
            errors.append(e)

    threads = [threading.Thread(target=load, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.inserted for r in results) == 4500
    assert sum(r.duplicates for r in results) == 1500
    assert catalog.usage.total("org_1", "api_calls") == 4500
    assert _count(catalog) == (4500, 4500)
