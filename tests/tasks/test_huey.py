"""billingos's jobs on the host's huey: immediate mode, and a real Redis-backed consumer."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from typing import Any

import pytest

from billingos import Billing
from billingos.emulator import signature_header
from tests.conftest import WEBHOOK_SECRET


def _deliver(billing: Billing, event_id: str) -> None:
    event = {"id": event_id, "object": "event", "type": "thing.happened", "livemode": False, "created": 1,
             "data": {"object": {"id": "obj_1", "object": "thing"}}}
    body = json.dumps(event).encode()
    billing.webhooks.receive(body, {"Stripe-Signature": signature_header(body, [WEBHOOK_SECRET],
                                                                         int(billing.now().timestamp())),
                                    "Content-Type": "application/json"})


def test_register_tasks_on_immediate_huey(billing: Billing) -> None:
    from huey import MemoryHuey
    huey = MemoryHuey(immediate=True)
    tasks = billing.register_tasks(huey)
    assert {"webhooks.process", "jobs.retry_due", "reconcile"} <= set(tasks)
    periodic = {t.__name__ for t in huey._registry._periodic_tasks}
    assert periodic >= {"billingos.jobs.retry_due", "billingos.reconcile"}
    seen: list[str] = []
    billing.webhooks.subscribe("thing.happened", lambda ctx: seen.append(ctx.event["id"]))
    _deliver(billing, "evt_huey_immediate")
    assert seen == ["evt_huey_immediate"]
    with pytest.raises(RuntimeError, match="already registered"):
        billing.register_tasks(huey)


def test_real_redis_huey_consumer_processes_events(billing: Billing, redis_url: str) -> None:
    from huey import RedisHuey
    from huey.consumer import Consumer
    huey = RedisHuey(name=f"billingos-test-{uuid.uuid4().hex[:8]}", url=redis_url)
    billing.register_tasks(huey)
    done = threading.Event()
    seen: list[str] = []

    @billing.webhooks.subscribe("thing.happened")
    def handler(ctx: Any) -> None:
        seen.append(ctx.event["id"])
        done.set()

    _deliver(billing, "evt_huey_redis")
    assert seen == []                            # queued in Redis, not run in the request
    consumer = Consumer(huey, workers=1, periodic=False, check_worker_health=False)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer.start()                             # worker threads; start() also sets signal handlers
    try:
        assert done.wait(15), "the huey consumer never ran the task"
        deadline = time.time() + 5
        while billing.webhooks.events()[0].status != "processed" and time.time() < deadline:
            time.sleep(0.05)
        assert seen == ["evt_huey_redis"] and billing.webhooks.events()[0].status == "processed"
    finally:
        consumer.stop(graceful=True)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        huey.storage.flush_all()
