"""Metered limits: consume, idempotency, windows, rollover, reservations, bad input, concurrency."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from billingos import Billing, ConflictError, InvalidInputError, NotFoundError
from billingos.entitlements.models import BillingEntitlementCounter, BillingEntitlementUsage

from .conftest import Plans

ID = re.compile(r"rsv_[0-9]+_[0-9a-f]{32}")


@pytest.fixture
def pro(plans: Plans) -> Plans:
    plans.sync(plans.subscription(plans.customer("org_a"), "pro"))
    return plans


def _rows(billing: Billing) -> tuple[int, int]:
    with billing.session_factory() as s:
        return (s.scalar(select(func.count()).select_from(BillingEntitlementUsage)) or 0,
                s.scalar(select(func.count()).select_from(BillingEntitlementCounter)) or 0)


def test_consume_counts_until_the_limit_then_refuses(pro: Plans) -> None:
    b = pro.billing
    c = b.consume("org_a", "api_calls", 600, "req_1")
    assert (c.allowed, c.limit, c.used, c.remaining, c.reason) == (True, 1000, 600, 400, "granted")
    assert b.consume("org_a", "api_calls", 400, "req_2").remaining == 0
    denied = b.consume("org_a", "api_calls", 1, "req_3")
    assert (denied.allowed, denied.used, denied.remaining, denied.reason) == (False, 1000, 0, "limit_reached")
    assert not denied and b.check("org_a", "api_calls").reason == "limit_reached"
    assert b.check("org_a", "api_calls", 0).allowed           # looking costs nothing
    assert _rows(b) == (2, 1)


def test_retries_are_not_counted_twice(pro: Plans) -> None:
    b = pro.billing
    first = b.consume("org_a", "api_calls", 5, "req_1")
    again = b.consume("org_a", "api_calls", 5, "req_1")
    assert (first.used, again.used, again.allowed, again.reason) == (5, 5, True, "duplicate")
    with pytest.raises(ConflictError) as err:
        b.consume("org_a", "api_calls", 6, "req_1")
    assert err.value.param == "idempotency_key"
    assert b.check("org_a", "api_calls").used == 5


def test_not_granted_and_unlimited(pro: Plans) -> None:
    b = pro.billing
    assert b.consume("org_x", "api_calls", 1, "k").reason == "not_granted"
    team = pro.subscription(pro.customer("org_t"), "team")
    pro.sync(team)
    c = b.consume("org_t", "api_calls", 10**9, "k")
    assert (c.allowed, c.limit, c.used, c.remaining) == (True, None, 10**9, None)


def test_the_window_resets_on_renewal_with_rollover(plans: Plans) -> None:
    b = plans.billing
    rollover = {"billingos_limit.api_calls": "100/billing_period/rollover"}
    plans.billing.stripe.v1.products.update(plans.products["pro"], params={"metadata": rollover})
    sub = plans.subscription(plans.customer("org_a"), "pro")
    plans.sync(sub)
    b.entitlements.refresh("org_a")                     # re-read the product's limits from Stripe
    assert b.check("org_a", "api_calls").limit == 100
    b.consume("org_a", "api_calls", 70, "a")
    start = b.now() - timedelta(days=1)
    renewal = start + timedelta(days=30)
    b.clock.set(renewal + timedelta(hours=1))  # type: ignore[attr-defined]
    assert b.check("org_a", "api_calls").used == 70     # the renewal has not synced: never reset early
    plans.sync(plans.subscription(sub["customer"], "pro", sub_id=sub["id"], period_start=renewal))
    c = b.check("org_a", "api_calls")
    assert (c.limit, c.used, c.resets_at) == (130, 0, renewal + timedelta(days=30))   # 30 unused rolled over
    assert b.consume("org_a", "api_calls", 130, "b").allowed and not b.consume("org_a", "api_calls", 1, "c").allowed


def test_override_windows_follow_the_calendar(plans: Plans) -> None:
    b = plans.billing
    b.entitlements.grant("org_o", "api_calls", limit=3, reset="day")
    assert [b.consume("org_o", "api_calls", 1, f"k{i}").allowed for i in range(4)] == [True, True, True, False]
    c = b.check("org_o", "api_calls")
    assert c.resets_at == b.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    b.clock.set(c.resets_at)  # type: ignore[attr-defined]
    assert b.check("org_o", "api_calls").used == 0 and b.consume("org_o", "api_calls", 3, "k9").allowed


def test_reservations_hold_capacity_then_commit_release_or_expire(pro: Plans) -> None:
    b, ent = pro.billing, pro.billing.entitlements
    r = ent.reserve("org_a", "api_calls", 800, "job_1", timeout=timedelta(minutes=10))
    assert r and r.id and ID.fullmatch(r.id) and r.expires_at == b.now() + timedelta(minutes=10)
    assert r.check.used == 800 and b.check("org_a", "api_calls", 201).reason == "limit_reached"
    assert ent.reserve("org_a", "api_calls", 800, "job_1").id == r.id            # a retried reserve
    assert not ent.reserve("org_a", "api_calls", 300, "job_2")
    done = ent.commit(r, 500)                                                     # the job used less
    assert (done.allowed, done.used) == (True, 500) and b.check("org_a", "api_calls").used == 500
    assert ent.commit(r, 500).reason == "duplicate"
    with pytest.raises(ConflictError):
        ent.commit(r, 400)
    r2 = ent.reserve("org_a", "api_calls", 400, "job_3")
    assert ent.release(r2.id) is True and ent.release(r2.id) is False  # type: ignore[arg-type]
    assert b.check("org_a", "api_calls").used == 500
    r3 = ent.reserve("org_a", "api_calls", 500, "job_4", timeout=timedelta(seconds=30))
    assert b.check("org_a", "api_calls").remaining == 0
    b.clock.advance(seconds=30)  # type: ignore[attr-defined]
    assert b.check("org_a", "api_calls").remaining == 500                         # a lapsed hold stops counting
    with pytest.raises(ConflictError, match="expired"):
        ent.commit(r3)
    assert ent.expire() == 0
    with b.session_factory() as s:
        assert s.scalar(select(BillingEntitlementUsage.status).where(
            BillingEntitlementUsage.idempotency_key == "job_4")) == "expired"
    with pytest.raises(InvalidInputError):
        ent.commit(ent.reserve("org_a", "api_calls", 10, "job_5"), 11)


def _state(b: Billing, owner: str, idem: str) -> tuple[int | None, int, str | None]:
    """(check().used with holds, the counter's committed used, the reservation's status) for ``owner``."""
    with b.session_factory() as s:
        used = s.scalar(select(func.coalesce(func.sum(BillingEntitlementCounter.used), 0)).where(
            BillingEntitlementCounter.owner_id == owner)) or 0
        status = s.scalar(select(BillingEntitlementUsage.status).where(
            BillingEntitlementUsage.owner_id == owner, BillingEntitlementUsage.idempotency_key == idem))
    return b.check(owner, "api_calls").used, used, status


def _not_found(call: Any) -> str:
    with pytest.raises(NotFoundError) as err:
        call()
    assert err.value.param == "reservation"
    return err.value.message


def test_reservation_ids_are_unguessable_capabilities(pro: Plans) -> None:
    b, ent = pro.billing, pro.billing.entitlements
    pro.sync(pro.subscription(pro.customer("org_b"), "pro"))
    r = ent.reserve("org_a", "api_calls", 800, "job_1")
    other = ent.reserve("org_b", "api_calls", 300, "job_1")
    assert r.id and other.id and ID.fullmatch(r.id) and ID.fullmatch(other.id)
    n, token = r.id[4:].split("_")
    assert other.id.split("_")[2] != token                                        # a fresh token per reservation
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    guesses = [f"rsv_{n}_{'0' * 32}", f"rsv_{n}_{flipped}", f"rsv_{n}_{other.id.split('_')[2]}"]
    messages = set()
    for guess in guesses:                                                         # the right row, a wrong token
        messages.add(_not_found(lambda g=guess: ent.commit(g)))
        messages.add(_not_found(lambda g=guess: ent.commit(g, 1)))
        messages.add(_not_found(lambda g=guess: ent.release(g)))
    messages.add(_not_found(lambda: ent.commit(r, owner_id="org_b")))            # the right id, another owner
    messages.add(_not_found(lambda: ent.release(r.id, owner_id="org_b")))         # type: ignore[arg-type]
    assert len(messages) == 1 and token not in messages.pop()                     # one answer: nothing to probe
    unknown = _not_found(lambda: ent.commit(f"rsv_{int(n) + 1000}_{token}"))
    assert unknown == _not_found(lambda: ent.commit(guesses[0])).replace(n, str(int(n) + 1000))
    assert _state(b, "org_a", "job_1") == (800, 0, "held")                        # nothing changed
    assert _state(b, "org_b", "job_1") == (300, 0, "held")
    done = ent.commit(r.id, 500, owner_id="org_a")  # type: ignore[arg-type]   # the id string, bound to its owner
    assert (done.allowed, done.reason, done.used) == (True, "granted", 500)
    assert _state(b, "org_a", "job_1") == (500, 500, "committed")
    assert ent.release(other, owner_id="org_b") is True                           # the Reservation object
    assert _state(b, "org_b", "job_1") == (0, 0, "released")


def test_a_reservation_object_and_its_id_both_work(pro: Plans) -> None:
    b, ent = pro.billing, pro.billing.entitlements
    held = [ent.reserve("org_a", "api_calls", 100, f"job_{i}") for i in range(4)]
    assert b.check("org_a", "api_calls").used == 400
    # used counts what is still held, as check() does (the other holds stay counted until settled)
    assert ent.commit(held[0]).used == 400 and ent.commit(held[1].id).remaining == 600  # type: ignore[arg-type]
    assert ent.release(held[2]) is True and ent.release(held[3].id) is True        # type: ignore[arg-type]
    assert ent.release(held[2].id) is False and ent.commit(held[0].id).reason == "duplicate"  # type: ignore[arg-type]
    assert [_state(b, "org_a", f"job_{i}")[2] for i in range(4)] == ["committed", "committed", "released", "released"]
    assert _state(b, "org_a", "job_0")[:2] == (200, 200)


def test_a_reservations_repr_leaves_the_token_out(pro: Plans) -> None:
    r = pro.billing.entitlements.reserve("org_a", "api_calls", 10, "job_repr")
    assert r.id is not None
    n, token = r.id[4:].split("_")
    assert f"id='rsv_{n}_…'" in repr(r) and token not in repr(r) and token not in str(r)


def test_old_and_malformed_ids_are_refused_without_echoing_them(pro: Plans) -> None:
    b, ent = pro.billing, pro.billing.entitlements
    r = ent.reserve("org_a", "api_calls", 50, "job_1")
    assert r.id is not None
    n, token = r.id[4:].split("_")
    for call in (ent.commit, ent.release):
        with pytest.raises(InvalidInputError, match=r"'rsv_<n>' are no longer accepted") as err:
            call(f"rsv_{n}")
        assert err.value.param == "reservation"
    bad = [f"rsv_{n}_{token.upper()}", f"rsv_{n}_{token[:-1]}", f"rsv_{n}_{token}0", f" {r.id}", f"{r.id}\n",
           f"rsv_²_{token}", f"rsv_-{n}_{token}", f"rsv__{token}", f"{n}_{token}", f"rsv_{n}_{token}_x",
           f"rsv_{'9' * 19}_{token}", r.id.encode(), None, 7, ["rsv"]]
    for value in bad:
        for call in (lambda v: ent.commit(v), lambda v: ent.release(v), lambda v: ent.commit(v, 1, owner_id="org_a")):
            with pytest.raises(InvalidInputError) as err:
                call(value)
            assert err.value.param == "reservation" and token not in err.value.message, value
    refused = ent.reserve("org_a", "api_calls", 5000, "job_2")
    assert refused.id is None and refused.check.reason == "limit_reached"
    with pytest.raises(InvalidInputError, match="refused") as err:
        ent.commit(refused)
    assert err.value.param == "reservation"
    assert _state(b, "org_a", "job_1") == (50, 0, "held")


def test_owner_id_and_amount_are_validated_before_anything_is_read(pro: Plans) -> None:
    b, ent = pro.billing, pro.billing.entitlements
    r = ent.reserve("org_a", "api_calls", 50, "job_1")
    for owner in ["", " org_a", "x" * 256, 42, ["org_a"]]:
        for call in (lambda o: ent.commit(r, owner_id=o), lambda o: ent.release(r, owner_id=o)):
            with pytest.raises(InvalidInputError) as err:
                call(owner)
            assert err.value.param == "owner_id", owner
    for amount in [-1, 1.5, "5", True, math.nan]:
        with pytest.raises(InvalidInputError) as err:
            ent.commit(r, amount, owner_id="org_a")  # type: ignore[arg-type]
        assert err.value.param == "amount", amount
    with pytest.raises(InvalidInputError) as err:
        ent.commit(r, 51, owner_id="org_a")                                      # more than was reserved
    assert err.value.param == "amount"
    assert _state(b, "org_a", "job_1") == (50, 0, "held")
    assert ent.commit(r, 0, owner_id="org_a").used == 0                          # nothing used: a valid commit
    assert _state(b, "org_a", "job_1") == (0, 0, "committed")


def test_rows_without_a_token_can_never_be_named(pro: Plans) -> None:
    b, ent = pro.billing, pro.billing.entitlements
    assert b.consume("org_a", "api_calls", 10, "req_1").used == 10
    r = ent.reserve("org_a", "api_calls", 40, "job_1")
    assert r.id is not None
    with b.transaction() as s:   # as a reservation made before revision 0003 looks after the upgrade
        s.execute(update(BillingEntitlementUsage).where(BillingEntitlementUsage.idempotency_key == "job_1")
                  .values(token=""))
        ids = dict(s.execute(select(BillingEntitlementUsage.idempotency_key, BillingEntitlementUsage.id)).all())
        assert s.scalar(select(BillingEntitlementUsage.token).where(
            BillingEntitlementUsage.idempotency_key == "req_1")) == ""            # consume rows carry no token
    for row_id in ids.values():
        for guess in ("0" * 32, r.id.split("_")[2]):
            _not_found(lambda i=row_id, g=guess: ent.commit(f"rsv_{i}_{g}"))
    assert _state(b, "org_a", "job_1") == (50, 10, "held")
    again = ent.reserve("org_a", "api_calls", 40, "job_1")                       # the retry mints a working id
    assert again.check.reason == "duplicate" and again.id and ID.fullmatch(again.id) and again.id != r.id
    assert again.id.startswith(f"rsv_{ids['job_1']}_")
    assert ent.reserve("org_a", "api_calls", 40, "job_1").id == again.id          # and keeps it
    assert ent.release(again.id, owner_id="org_a") is True
    assert _state(b, "org_a", "job_1") == (10, 10, "released")


BAD_AMOUNTS = [0, -1, 1.0, 2.5, math.nan, math.inf, 10**13, True, None, "5", [1]]
BAD_KEYS = ["", " api_calls", "nope", None, 5, "x" * 81, "export"]
BAD_OWNERS = ["", " org_a", "x" * 256, None, 42, ["org_a"]]
BAD_IDEMPOTENCY = ["", " k", "k\n", None, 5, "x" * 256]


@pytest.mark.parametrize("field, values", [("amount", BAD_AMOUNTS), ("key", BAD_KEYS), ("owner_id", BAD_OWNERS),
                                           ("idempotency_key", BAD_IDEMPOTENCY)])
def test_bad_input_raises_and_writes_nothing(pro: Plans, field: str, values: list[Any]) -> None:
    b = pro.billing
    good = {"owner_id": "org_a", "key": "api_calls", "amount": 1, "idempotency_key": "k1"}
    for value in values:
        args = {**good, field: value}
        with pytest.raises(InvalidInputError) as err:
            b.consume(args["owner_id"], args["key"], args["amount"], args["idempotency_key"])
        assert err.value.param == ("key" if field == "key" else field), value
        with pytest.raises(InvalidInputError):
            b.entitlements.reserve(args["owner_id"], args["key"], args["amount"], args["idempotency_key"])
        check = b.check(args["owner_id"], args["key"], args["amount"] if field == "amount" else 1)
        if field != "idempotency_key" and value not in (0, "export"):   # check() may look (0) and check booleans
            assert check.allowed is False and check.reason in ("invalid_input", "unknown_feature", "not_granted")
    assert _rows(b) == (0, 0)
    for bad in ["rsv_x", "", None, 5, "rsv_" + "9" * 30, "rsv_999"]:
        with pytest.raises(InvalidInputError):
            b.entitlements.commit(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            b.entitlements.release(bad)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        b.entitlements.commit("rsv_999_" + "a" * 32)
    for timeout in [timedelta(0), timedelta(days=8), 30, None]:
        with pytest.raises(InvalidInputError):
            b.entitlements.reserve("org_a", "api_calls", 1, "k", timeout=timeout)  # type: ignore[arg-type]
    assert _rows(b) == (0, 0)


def test_threads_never_overspend(pro: Plans) -> None:
    b = pro.billing
    b.entitlements.grant("org_t", "api_calls", limit=40, reset="never")
    results: list[bool] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(10):
            ok = b.consume("org_t", "api_calls", 1, f"t{n}-{i}").allowed
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 40 and len(results) == 80
    assert b.check("org_t", "api_calls").used == 40


WORKER = """
import sys
from sqlalchemy import create_engine
from billingos import Billing
url, schema, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
args = {"connect_args": {"options": f"-csearch_path={schema}"}} if schema != "-" else {}
key = "sk_test_quota_worker"   # these workers never call Stripe, but a Billing always names its Stripe
billing = (Billing(engine=create_engine(url, **args), stripe_api_key=key) if schema != "-"
           else Billing(database_url=url, stripe_api_key=key))
ok = sum(billing.consume("org_p", "api_calls", 1, f"{tag}-{i}").allowed for i in range(n))
print(ok)
"""


def test_threads_and_two_processes_use_exactly_the_limit(pro: Plans, tmp_path: Path) -> None:
    b = pro.billing
    limit = 60
    b.entitlements.grant("org_p", "api_calls", limit=limit, reset="never")
    url = b.engine.url.render_as_string(hide_password=False)
    schema = "-"
    if b.engine.dialect.name == "postgresql":
        from sqlalchemy import text
        with b.engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, str(script), url, schema, "40", f"p{n}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for n in range(2)]
    results: list[bool] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(10):
            ok = b.consume("org_p", "api_calls", 1, f"t{n}-{i}").allowed
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    outs = [p.communicate(timeout=300) for p in procs]
    for t in threads:
        t.join()
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    total = results.count(True) + sum(int(o[0].strip()) for o in outs)
    assert total == limit                                     # 120 attempts, exactly the limit granted
    assert b.check("org_p", "api_calls").used == limit
    with b.session_factory() as s:
        assert s.scalar(select(func.sum(BillingEntitlementUsage.amount)).where(
            BillingEntitlementUsage.owner_id == "org_p")) == limit


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_token_migration_fills_existing_rows(tmp_path: Path, backend: str) -> None:
    from sqlalchemy import create_engine, inspect, text

    from billingos.migrations import downgrade, upgrade
    from tests.conftest import PG_URL, _need, _reachable

    schema = f"rsv_{uuid.uuid4().hex[:10]}"
    admin = None
    if backend == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        _need("PostgreSQL", _reachable("127.0.0.1", 5432))
        admin = create_engine(PG_URL)
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine, "0002")
        with engine.begin() as c:
            c.execute(text("INSERT INTO billing_entitlement_counters (id, owner_id, feature_key, window_start, used, "
                           "carried) VALUES (1, 'org_a', 'api_calls', '2026-01-01 00:00:00+00:00', 5, 0)"))
            c.execute(text("INSERT INTO billing_entitlement_usage (id, owner_id, feature_key, counter_id, "
                           "idempotency_key, kind, amount, status, expires_at, created_at) VALUES "
                           "(7, 'org_a', 'api_calls', 1, 'job', 'reservation', 3, 'held', "
                           "'2026-01-01 00:10:00+00:00', '2026-01-01 00:00:00+00:00'), "
                           "(8, 'org_a', 'api_calls', 1, 'req', 'consume', 5, 'committed', NULL, "
                           "'2026-01-01 00:00:00+00:00')"))
        upgrade(engine)
        column = {c["name"]: c for c in inspect(engine).get_columns("billing_entitlement_usage")}["token"]
        assert column["nullable"] is False
        with engine.connect() as c:
            assert c.execute(text("SELECT id, token FROM billing_entitlement_usage ORDER BY id")).all() == [
                (7, ""), (8, "")]
        b = Billing(engine=engine, stripe_api_key="sk_test_x")
        with pytest.raises(InvalidInputError, match="no longer accepted"):
            b.entitlements.commit("rsv_7")
        with pytest.raises(NotFoundError):
            b.entitlements.release("rsv_7_" + "0" * 32)
        with engine.connect() as c:
            assert c.execute(text("SELECT status FROM billing_entitlement_usage WHERE id = 7")).scalar() == "held"
        downgrade(engine, "0002")                         # and back: the column goes, the rows stay
        assert "token" not in {c["name"] for c in inspect(engine).get_columns("billing_entitlement_usage")}
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM billing_entitlement_usage")).scalar() == 2
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
