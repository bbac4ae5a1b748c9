"""em.webhooks.connect_batch: every due delivery to one URL in one call, one status each, retried alike."""

from __future__ import annotations

import random

import stripe

from billingos.emulator import Emulator
from billingos.emulator.delivery import RETRY_DELAYS
from tests.emulator.test_webhook_endpoints import URL, Inbox, _endpoint


class BatchInbox:
    """Verifies each delivery of a call with the real SDK; answers ``statuses(i)`` for the i-th of a call."""

    def __init__(self, secret: str, status: int = 200) -> None:
        self.secret, self.status = secret, status
        self.calls: list[list[str]] = []

    def __call__(self, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
        ids = [stripe.Webhook.construct_event(body.decode(), headers["Stripe-Signature"], self.secret,
                                              tolerance=None).id for body, headers in deliveries]
        self.calls.append(ids)
        return [self.status] * len(ids)


def test_due_deliveries_go_in_one_call_in_order(client, emulator: Emulator) -> None:
    we = _endpoint(client)
    box = BatchInbox(we.secret)
    emulator.webhooks.connect_batch(URL, box)
    emulator.webhooks.mode = "manual"
    ids = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]
    attempts = emulator.webhooks.deliver()
    assert len(box.calls) == 1 and len(box.calls[0]) == 5
    assert [a.event_id for a in attempts] == box.calls[0] and all(a.status == 200 for a in attempts)
    objects = [client.v1.events.retrieve(e).data.object.id for e in box.calls[0]]
    assert objects == ids
    assert emulator.webhooks.pending() == [] and emulator.state.undelivered_events == []


def test_shuffle_and_duplicates_reach_the_batch(client, emulator: Emulator) -> None:
    we = _endpoint(client)
    box = BatchInbox(we.secret)
    emulator.webhooks.connect_batch(URL, box)
    emulator.webhooks.mode = "manual"
    for i in range(4):
        client.v1.customers.create(params={"name": f"c{i}"})
    attempts = emulator.webhooks.deliver(shuffle=random.Random(3), duplicate=1.0)
    assert len(box.calls) == 1 and len(box.calls[0]) == 8
    assert [a.event_id for a in attempts] == box.calls[0] and sum(a.duplicate for a in attempts) == 4


def test_per_delivery_statuses_and_crashes_are_retried(client, emulator: Emulator, clock) -> None:
    we = _endpoint(client)
    emulator.webhooks.mode = "manual"
    client.v1.customers.create()
    client.v1.customers.create()
    emulator.webhooks.connect_batch(URL, lambda deliveries: [200, 400][:len(deliveries)])
    first = emulator.webhooks.deliver()
    assert [a.status for a in first] == [200, 400] and len(emulator.webhooks.pending()) == 1

    def boom(deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
        raise RuntimeError("receiver crashed")
    emulator.webhooks.connect_batch(URL, boom)
    clock.advance(seconds=RETRY_DELAYS[0])
    crashed = emulator.webhooks.deliver()
    assert [(a.status, a.attempt) for a in crashed] == [(None, 2)] and "receiver crashed" in str(crashed[0].error)
    emulator.webhooks.connect_batch(URL, lambda deliveries: [])          # too few answers: a failure too
    clock.advance(seconds=RETRY_DELAYS[1])
    short = emulator.webhooks.deliver()
    assert [(a.status, a.attempt) for a in short] == [(None, 3)] and "answered 0 statuses" in str(short[0].error)
    box = BatchInbox(we.secret)
    emulator.webhooks.connect_batch(URL, box)
    clock.advance(seconds=RETRY_DELAYS[2])
    assert [(a.status, a.attempt) for a in emulator.webhooks.deliver()] == [(200, 4)]
    assert emulator.webhooks.pending() == [] and emulator.state.undelivered_events == []


def test_dropped_deliveries_never_reach_the_batch_and_connect_replaces(client, emulator: Emulator) -> None:
    we = _endpoint(client)
    box = BatchInbox(we.secret)
    emulator.webhooks.connect_batch(URL, box)
    emulator.webhooks.mode = "manual"
    client.v1.customers.create()
    assert [a.status for a in emulator.webhooks.deliver(drop=True)] == [None] and box.calls == []
    single = Inbox(we.secret)
    emulator.webhooks.connect(URL, single)               # a single receiver replaces the batch one
    assert URL not in emulator.webhooks.batch_receivers
    emulator.webhooks.disconnect(URL)
    assert URL not in emulator.webhooks.receivers


def test_disabled_endpoint_cancels_without_calling(client, emulator: Emulator) -> None:
    we = _endpoint(client)
    box = BatchInbox(we.secret)
    emulator.webhooks.connect_batch(URL, box)
    emulator.webhooks.mode = "manual"
    client.v1.customers.create()
    client.v1.webhook_endpoints.update(we.id, params={"disabled": True})
    attempts = emulator.webhooks.deliver()
    assert [a.status for a in attempts] == [None] and "cancelled" in str(attempts[0].error) and box.calls == []
