"""Webhook throughput: events received and processed end to end, against a raw HMAC + INSERT baseline;
then, with the emulator answering after a real Stripe's latency, what several workers and coalescing buy.

    .venv/bin/python bench/webhooks.py [--events 2000] [--latency 0.1]

The baseline does the least any correct receiver must: verify the Stripe signature (HMAC-SHA256)
and INSERT the raw event, one transaction per event, on the same database. billingos does that
plus dedup on the event id, the outbox claim, a row lock, fetching the current object from the
(in-process) Stripe emulator, the sync upsert and the after-commit signal.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import time

from sqlalchemy import Column, MetaData, String, Table, Text
from sqlalchemy.engine import Engine

from bench._common import figure, per_second, postgres_schema, row, timed
from billingos import Billing, FrozenClock
from billingos.emulator import Emulator, signature_header
from billingos.stripe_api import plain

SECRET = "whsec_bench_0123456789"


def make_events(em: Emulator, n: int) -> list[tuple[bytes, dict[str, str]]]:
    """n customer.updated events for n/2 customers, signed as Stripe signs them."""
    sc = em.client()
    ids = [sc.v1.customers.create(params={"email": f"c{i}@b.co", "metadata": {"billingos_owner_id": f"org_{i}"}}).id
           for i in range(max(1, n // 2))]
    captured: list[dict[str, Any]] = []
    em.hooks.event.append(captured.append)
    for i in range(n):
        sc.v1.customers.update(ids[i % len(ids)], params={"name": f"name {i}"})
    ts = int(em.clock.now().timestamp())
    out = []
    for event in captured:
        body = json.dumps(plain(event)).encode()
        out.append((body, {"Stripe-Signature": signature_header(body, [SECRET], ts),
                           "Content-Type": "application/json"}))
    return out


def baseline(engine: Engine, deliveries: list[tuple[bytes, dict[str, str]]]) -> float:
    table = Table("bench_raw_events", MetaData(), Column("id", String(255), primary_key=True),
                  Column("payload", Text))
    table.create(engine)

    def run() -> None:
        for body, headers in deliveries:
            t, v1 = headers["Stripe-Signature"].split(",")
            ts = t[2:]
            expected = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(expected, v1[3:])
            with engine.begin() as conn:
                conn.execute(table.insert().values(id=json.loads(body)["id"], payload=body.decode()))

    return per_second(len(deliveries), timed(run))


def billingos_rate(engine: Engine, em: Emulator, clock: FrozenClock,
                   deliveries: list[tuple[bytes, dict[str, str]]]) -> tuple[float, float, float]:
    billing = Billing(engine=engine, emulator=em, clock=clock, webhook_secrets=[SECRET])
    billing.migrate()
    warm, deliveries = deliveries[:100], deliveries[100:]
    for body, headers in warm:         # not measured: compiled-statement caches, connection pool
        billing.webhooks.receive(body, headers)
    half = len(deliveries) // 2
    end_to_end = per_second(half, timed(lambda: [billing.webhooks.receive(b, h) for b, h in deliveries[:half]]))
    billing.tasks.deferred = True          # receive only (what the web request pays), then the worker's share
    rest = deliveries[half:]
    receive_only = per_second(len(rest), timed(lambda: [billing.webhooks.receive(b, h) for b, h in rest]))
    process_only = per_second(len(rest), timed(billing.tasks.run_queued))
    return end_to_end, receive_only, process_only


def measure(name: str, engine: Engine, n: int) -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    em = Emulator(clock=clock)
    deliveries = make_events(em, n + 100)
    base = baseline(engine, deliveries)
    e2e, recv, proc = billingos_rate(engine, em, clock, deliveries)
    print(row(f"{name}: raw HMAC + INSERT", f"{base:,.0f}/s", "1.00x"))
    print(row(f"{name}: receive + process", f"{e2e:,.0f}/s", f"{e2e / base:.2f}x"))
    print(row(f"{name}: receive only (2xx)", f"{recv:,.0f}/s", f"{recv / base:.2f}x"))
    print(row(f"{name}: process only (task)", f"{proc:,.0f}/s", f"{proc / base:.2f}x"))
    base_name = "raw HMAC verify + INSERT"
    for label, value in (("receive + process inline", e2e), ("receive() only: the request's share", recv),
                         ("the task: claim, fetch, sync, commit", proc)):
        figure("webhooks", name, label, value, "events/s", baseline=base_name, baseline_value=base)


def _stored(billing: Billing, events: list[dict[str, Any]]) -> None:
    """Receive every event (what the web requests pay), without processing any yet."""
    billing.tasks.deferred = True
    ts = int(billing.now().timestamp())
    for event in events:
        body = json.dumps(plain(event)).encode()
        billing.webhooks.receive(body, {"Stripe-Signature": signature_header(body, [SECRET], ts),
                                        "Content-Type": "application/json"})
    billing.tasks.queued.clear()       # the workers below take the work from the jobs table


def _workers(billing: Billing, n: int) -> float:
    """Seconds for ``n`` worker threads (huey consumers) to drain the webhooks queue."""
    def work() -> None:
        while billing.jobs.run("webhooks"):
            pass

    threads = [threading.Thread(target=work) for _ in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def latency(pg: Engine, seconds: float, customers: int) -> None:
    """Events for ``customers`` different customers, the emulator answering after ``seconds``: 1 worker, then
    8; then 50 events for one subscription drained by 8 workers, counting Stripe fetches."""
    from sqlalchemy import text
    results = {}
    for workers in (1, 8):
        clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
        em = Emulator(clock=clock)
        sc = em.client()
        captured: list[dict[str, Any]] = []
        ids = [sc.v1.customers.create(params={"email": f"l{i}@b.co", "metadata": {"billingos_owner_id": f"org_{i}"}}).id
               for i in range(customers)]
        em.hooks.event.append(captured.append)
        for cid in ids:
            sc.v1.customers.update(cid, params={"name": "renamed"})
        with pg.begin() as c:
            c.execute(text("DROP TABLE IF EXISTS bench_raw_events"))
        billing = Billing(engine=pg, emulator=em, clock=clock, webhook_secrets=[SECRET])
        billing.migrate()
        _truncate(pg)
        _stored(billing, captured)
        em.latency = seconds
        results[workers] = _workers(billing, workers)
        assert {e.status for e in billing.webhooks.events(limit=customers)} == {"processed"}
        billing.close()
    print(row(f"PostgreSQL, {seconds * 1000:.0f} ms Stripe latency: {customers} customers",
              f"1 worker {results[1]:.1f} s", f"8 workers {results[8]:.1f} s", f"{results[1] / results[8]:.1f}x"))
    figure("webhooks", f"PostgreSQL, Stripe answering after {seconds * 1000:.0f} ms",
           f"{customers} customers' events drained by 8 workers", results[8], "s", baseline="1 worker",
           baseline_value=results[1], ratio=results[1] / results[8], note="ratio: speed-up over 1 worker")

    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    em = Emulator(clock=clock)
    sc = em.client()
    cust = sc.v1.customers.create(params={"email": "s@b.co", "metadata": {"billingos_owner_id": "org_s"}})
    price = sc.v1.prices.create(params={"currency": "usd", "unit_amount": 1000, "product_data": {"name": "P"},
                                        "recurring": {"interval": "month"}})
    sub = sc.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price.id}],
                                             "trial_period_days": 30})
    captured = []
    em.hooks.event.append(captured.append)
    for i in range(50):
        sc.v1.subscriptions.update(sub.id, params={"metadata": {"n": str(i)}})
    billing = Billing(engine=pg, emulator=em, clock=clock, webhook_secrets=[SECRET])
    _truncate(pg)
    billing.customers.sync(sc.v1.customers.retrieve(cust.id))
    _stored(billing, [e for e in captured if e["type"] == "customer.subscription.updated"])
    em.latency = seconds
    before = len(em.request_log)
    took = _workers(billing, 8)
    fetches = sum(1 for method, path, _ in em.request_log[before:] if method == "GET" and path.endswith(sub.id))
    print(row("50 events for one subscription, 8 workers", f"{fetches} fetches", f"{took:.1f} s"))
    figure("webhooks", f"PostgreSQL, Stripe answering after {seconds * 1000:.0f} ms",
           "Stripe fetches for 50 events of one subscription (8 workers)", fetches, "fetches",
           baseline="one fetch per event", baseline_value=50)
    billing.close()


def _truncate(engine: Engine) -> None:
    from sqlalchemy import text

    from billingos.models import metadata
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the emulator waits per call")
    parser.add_argument("--customers", type=int, default=400)
    args = parser.parse_args()
    print(row("path", "events/s", "vs baseline"))
    with tempfile.TemporaryDirectory() as tmp:
        from billingos.billing import _make_engine
        measure("SQLite", _make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}"), args.events)
    with postgres_schema() as pg:
        if pg is None:
            print("PostgreSQL not reachable: skipped")
            return
        measure("PostgreSQL", pg, args.events)
        latency(pg, args.latency, args.customers)


if __name__ == "__main__":
    main()
