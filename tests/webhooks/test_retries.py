"""Failures retry with exponential backoff, then dead-letter; replay brings them back."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from billingos import Billing, NotFoundError, signals
from billingos.emulator import signature_header
from tests.conftest import WEBHOOK_SECRET


def _deliver(billing: Billing, event_id: str, type: str = "thing.happened") -> None:
    event = {"id": event_id, "object": "event", "type": type, "livemode": False, "created": 1,
             "data": {"object": {"id": "obj_1", "object": "thing"}}}
    body = json.dumps(event).encode()
    billing.webhooks.receive(body, {"Stripe-Signature": signature_header(body, [WEBHOOK_SECRET],
                                                                         int(billing.now().timestamp())),
                                    "Content-Type": "application/json"})


def test_failure_backs_off_then_dead_letters_then_replays(billing: Billing, clock: Any) -> None:
    calls: list[int] = []
    broken = {"on": True}

    @billing.webhooks.subscribe("thing.happened")
    def handler(ctx: Any) -> None:
        calls.append(1)
        if broken["on"]:
            raise RuntimeError("host handler bug")

    dead: list[Any] = []
    signals.webhook_dead_lettered.connect(lambda sender, event: dead.append(event), weak=False)
    try:
        _deliver(billing, "evt_retry")
        info = billing.webhooks.events()[0]
        assert (info.status, info.attempts) == ("failed", 1) and "host handler bug" in (info.last_error or "")
        assert billing.webhooks.retry_due() == 0          # backoff not over yet
        delays = []
        for attempt in range(2, billing.webhooks.max_attempts + 1):
            delay = min(billing.webhooks.base_delay * 2 ** (attempt - 2), billing.webhooks.max_delay)
            delays.append(delay)
            clock.advance(delay - timedelta(seconds=1))
            assert billing.webhooks.retry_due() == 0
            clock.advance(timedelta(seconds=1))
            assert billing.webhooks.retry_due() == 1
        info = billing.webhooks.events()[0]
        assert (info.status, info.attempts) == ("dead", billing.webhooks.max_attempts)
        assert [d.id for d in dead] == ["evt_retry"]
        assert delays[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
        clock.advance(days=30)
        assert billing.webhooks.retry_due() == 0          # dead events wait for a replay
        broken["on"] = False
        assert billing.webhooks.replay(status="dead") == ["evt_retry"]
        assert billing.webhooks.events()[0].status == "processed"
        assert len(calls) == billing.webhooks.max_attempts + 1
    finally:
        signals.webhook_dead_lettered.receivers.clear()


def test_a_failing_handler_rolls_back_its_writes(billing: Billing) -> None:
    @billing.webhooks.subscribe("thing.happened")
    def writes_then_fails(ctx: Any) -> None:
        billing.customers.apply(ctx.session, {"id": "cus_partial", "object": "customer", "metadata": {}})
        raise RuntimeError("after a write")

    _deliver(billing, "evt_partial")
    with pytest.raises(NotFoundError):
        billing.customers.get(stripe_id="cus_partial")


def test_replay_errors(billing: Billing) -> None:
    from billingos import InvalidInputError
    with pytest.raises(NotFoundError):
        billing.webhooks.replay("evt_nope")
    with pytest.raises(InvalidInputError):
        billing.webhooks.replay(status="weird")


def test_processing_twice_is_a_no_op(billing: Billing) -> None:
    calls: list[str] = []
    billing.webhooks.subscribe("thing.happened", lambda ctx: calls.append(ctx.event["id"]))
    _deliver(billing, "evt_once")
    assert billing.webhooks.process("evt_once") == "processed"
    assert billing.webhooks.process("evt_once") == "processed"
    assert calls == ["evt_once"]
    with pytest.raises(NotFoundError):
        billing.webhooks.process("evt_missing")
