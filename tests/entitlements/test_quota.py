"""Metered limits: consume, idempotency, windows, rollover, reservations, bad input, concurrency."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, ConflictError, InvalidInputError, NotFoundError
from billingos.entitlements.models import BillingEntitlementCounter, BillingEntitlementUsage

from .conftest import Plans


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
    assert r and r.id and r.id.startswith("rsv_") and r.expires_at == b.now() + timedelta(minutes=10)
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
    for bad in ["rsv_x", "", None, 5, "rsv_" + "9" * 30]:
        with pytest.raises(InvalidInputError):
            b.entitlements.commit(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            b.entitlements.release(bad)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        b.entitlements.commit("rsv_999")
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
billing = Billing(engine=create_engine(url, **args)) if schema != "-" else Billing(database_url=url)
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
