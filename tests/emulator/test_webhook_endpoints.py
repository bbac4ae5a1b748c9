from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stripe

from billingos.emulator import Emulator
from billingos.emulator.delivery import RETRY_DELAYS

FIXTURES = Path("/work/shared/stripe/fixtures3.json")
URL = "http://127.0.0.1:9/hooks/stripe"


class Inbox:
    """An in-process receiver: verifies each delivery with the real SDK, answers ``status``."""

    def __init__(self, secret: str, status: int = 200) -> None:
        self.secret, self.status = secret, status
        self.events: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.bodies: list[bytes] = []

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        event = stripe.Webhook.construct_event(body.decode(), headers["Stripe-Signature"], self.secret,
                                               tolerance=None)
        self.events.append(event)
        self.headers.append(headers)
        self.bodies.append(body)
        return self.status

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]


def _endpoint(client, events: list[str] | None = None, url: str = URL):
    return client.v1.webhook_endpoints.create(params={"url": url, "enabled_events": events or ["*"]})


@pytest.fixture
def inbox(client, emulator: Emulator) -> Inbox:
    we = _endpoint(client)
    box = Inbox(we.secret)
    emulator.webhooks.connect(URL, box)
    return box


# --- the endpoint resource ----------------------------------------------------------------------
def test_secret_is_only_in_the_create_response(client, emulator: Emulator) -> None:
    we = _endpoint(client, ["customer.created", "invoice.paid"])
    assert we.secret.startswith("whsec_") and len(we.secret) > 30
    assert (we.status, we.url, we.enabled_events, we.livemode) == (
        "enabled", URL, ["customer.created", "invoice.paid"], False)
    assert "secret" not in client.v1.webhook_endpoints.retrieve(we.id)
    assert "secret" not in client.v1.webhook_endpoints.list().data[0]
    assert emulator.webhooks.secret(we.id) == we.secret
    fixture = json.loads(FIXTURES.read_text())["resources"]["webhook_endpoint"]
    assert set(fixture) <= set(client.v1.webhook_endpoints.retrieve(we.id).to_dict())


@pytest.mark.parametrize(("params", "param", "code"), [
    ({"enabled_events": ["*"]}, "url", "parameter_missing"),
    ({"url": URL}, "enabled_events", "parameter_missing"),
    ({"url": URL, "enabled_events": ["customer.nonsense"]}, "enabled_events[0]", "parameter_invalid"),
    ({"url": "ftp://x/y", "enabled_events": ["*"]}, "url", "url_invalid"),
    ({"url": URL, "enabled_events": ["*"], "secret": "whsec_mine"}, "secret", "parameter_unknown"),
])
def test_create_validates_before_writing(client, params, param, code) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.webhook_endpoints.create(params=params)
    assert (exc.value.param, exc.value.code) == (param, code)
    assert client.v1.webhook_endpoints.list().data == []


def test_update_disable_and_delete(client) -> None:
    we = _endpoint(client)
    out = client.v1.webhook_endpoints.update(we.id, params={
        "disabled": True, "enabled_events": ["invoice.paid"], "description": "billing",
        "metadata": {"a": "b"}})
    assert (out.status, out.enabled_events, out.description) == ("disabled", ["invoice.paid"], "billing")
    assert out.metadata.to_dict() == {"a": "b"}
    assert client.v1.webhook_endpoints.update(we.id, params={"disabled": False}).status == "enabled"
    gone = client.v1.webhook_endpoints.delete(we.id)
    assert (gone.id, gone.deleted) == (we.id, True)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.webhook_endpoints.retrieve(we.id)
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"


def test_at_most_sixteen_endpoints(client) -> None:
    for i in range(16):
        _endpoint(client, url=f"http://127.0.0.1:9/{i}")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _endpoint(client)
    assert "maximum of 16" in str(exc.value.user_message)
    assert len(client.v1.webhook_endpoints.list(params={"limit": 100}).data) == 16


# --- delivery ---------------------------------------------------------------------------------------
def test_immediate_delivery_is_signed_with_the_endpoint_secret(client, inbox: Inbox, clock) -> None:
    cust = client.v1.customers.create(params={"email": "w@b.co"})
    assert inbox.types == ["customer.created"] and inbox.events[0].data.object.id == cust.id
    headers = inbox.headers[0]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    assert headers["Stripe-Signature"].startswith(f"t={int(clock.now().timestamp())},v1=")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(inbox.bodies[0].decode(), headers["Stripe-Signature"], "whsec_wrong",
                                       tolerance=None)


def test_only_matching_enabled_endpoints_receive(client, emulator: Emulator) -> None:
    created_only = _endpoint(client, ["customer.created"], url="http://127.0.0.1:9/a")
    disabled = _endpoint(client, ["*"], url="http://127.0.0.1:9/b")
    client.v1.webhook_endpoints.update(disabled.id, params={"disabled": True})
    a, b = Inbox(created_only.secret), Inbox(disabled.secret)
    emulator.webhooks.connect("http://127.0.0.1:9/a", a)
    emulator.webhooks.connect("http://127.0.0.1:9/b", b)
    cust = client.v1.customers.create()
    client.v1.customers.update(cust.id, params={"name": "N"})
    assert a.types == ["customer.created"] and b.types == []
    event = client.v1.events.list(params={"type": "customer.updated"}).data[0]
    assert event.pending_webhooks == 0


def test_pending_webhooks_counts_undelivered_endpoints(client, emulator: Emulator) -> None:
    emulator.webhooks.mode = "manual"
    for i in range(2):
        we = _endpoint(client, url=f"http://127.0.0.1:9/{i}")
        emulator.webhooks.connect(we.url, Inbox(we.secret))
    client.v1.customers.create()
    event = client.v1.events.list().data[0]
    assert event.pending_webhooks == 2 and len(emulator.webhooks.pending()) == 2
    assert [e.id for e in client.v1.events.list(params={"delivery_success": False}).data] == [event.id]
    attempts = emulator.webhooks.deliver()
    assert [a.status for a in attempts] == [200, 200]
    assert client.v1.events.retrieve(event.id).pending_webhooks == 0
    assert client.v1.events.list(params={"delivery_success": False}).data == []
    assert emulator.webhooks.pending() == []


def test_manual_mode_shuffle_and_duplicates(client, emulator: Emulator, inbox: Inbox) -> None:
    emulator.webhooks.mode = "manual"
    ids = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(6)]
    assert inbox.events == [] and len(emulator.webhooks.pending()) == 6
    attempts = emulator.webhooks.deliver(shuffle=random.Random(7), duplicate=1.0)
    assert len(attempts) == 12 and sum(a.duplicate for a in attempts) == 6
    received = [e.data.object.id for e in inbox.events]
    assert sorted(received) == sorted(ids * 2)
    assert received[:6] != ids                 # not in emission order
    assert emulator.webhooks.pending() == []
    with pytest.raises(ValueError):
        emulator.webhooks.mode = "sometimes"


def test_dropped_deliveries_are_retried_after_the_backoff(client, emulator: Emulator, inbox: Inbox,
                                                          clock) -> None:
    emulator.webhooks.mode = "manual"
    client.v1.customers.create()
    dropped = emulator.webhooks.deliver(drop=True)
    assert [(a.status, a.attempt) for a in dropped] == [(None, 1)] and inbox.events == []
    assert emulator.webhooks.deliver() == []   # not due yet
    clock.advance(seconds=RETRY_DELAYS[0])
    retried = emulator.webhooks.deliver()
    assert [(a.status, a.attempt) for a in retried] == [(200, 2)] and inbox.types == ["customer.created"]


def test_failures_back_off_then_give_up_after_three_days(client, emulator: Emulator, clock) -> None:
    we = _endpoint(client)
    box = Inbox(we.secret, status=500)
    emulator.webhooks.connect(URL, box)
    client.v1.customers.create()                    # immediate: first attempt fails
    event_id = box.events[0].id
    for _ in range(20):
        clock.advance(hours=12)
        emulator.webhooks.deliver()
    attempts = [a for a in emulator.webhooks.log if a.event_id == event_id]
    assert attempts[-1].gave_up is True and emulator.webhooks.pending() == []
    assert all(a.status == 500 for a in attempts) and 4 <= len(attempts) <= 12
    assert attempts[-1].at - attempts[0].at <= 3 * 24 * 3600
    assert event_id in emulator.state.undelivered_events
    clock.advance(days=1)
    assert emulator.webhooks.deliver() == []


def test_redirects_and_exceptions_count_as_failures(client, emulator: Emulator) -> None:
    we = _endpoint(client)
    emulator.webhooks.connect(URL, lambda body, headers: 301)
    client.v1.customers.create()
    def boom(body: bytes, headers: dict[str, str]) -> int:
        raise RuntimeError("receiver crashed")
    emulator.webhooks.connect(URL, boom)
    client.v1.customers.create()
    log = emulator.webhooks.log
    assert [a.status for a in log] == [301, None] and "receiver crashed" in str(log[1].error)
    assert len(emulator.webhooks.pending()) == 2 and we.id == log[0].endpoint_id


def test_a_receiver_may_call_back_into_the_emulator(client, emulator: Emulator) -> None:
    we = _endpoint(client, ["customer.created", "customer.updated"])
    box = Inbox(we.secret)

    def receiver(body: bytes, headers: dict[str, str]) -> int:
        box(body, headers)
        obj = box.events[-1].data.object
        fresh = client.v1.customers.retrieve(obj.id)     # the usual "fetch the current object"
        if box.events[-1].type == "customer.created":
            client.v1.customers.update(fresh.id, params={"name": "from the hook"})
        return 200

    emulator.webhooks.connect(URL, receiver)
    cust = client.v1.customers.create()
    assert box.types == ["customer.created", "customer.updated"]
    assert client.v1.customers.retrieve(cust.id).name == "from the hook"


def test_deleted_endpoint_gets_nothing_more(client, emulator: Emulator, inbox: Inbox) -> None:
    emulator.webhooks.mode = "manual"
    client.v1.customers.create()
    we = client.v1.webhook_endpoints.list().data[0]
    client.v1.webhook_endpoints.delete(we.id)
    assert emulator.webhooks.pending() == [] and emulator.webhooks.deliver() == []
    assert inbox.events == []


def test_endpoints_created_later_miss_earlier_events(client, emulator: Emulator) -> None:
    client.v1.customers.create()
    we = _endpoint(client)
    box = Inbox(we.secret)
    emulator.webhooks.connect(URL, box)
    emulator.webhooks.deliver()
    assert box.events == []


# --- over HTTP --------------------------------------------------------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((self.path, body, self.headers["Stripe-Signature"]))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, list[tuple[str, bytes, str]]]]:
    handler = type("Recorder", (_Recorder,), {"bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.bodies
    finally:
        server.shutdown()
        server.server_close()


def test_delivery_over_http_to_loopback(client, emulator: Emulator, http_receiver) -> None:
    base, bodies = http_receiver
    ok = _endpoint(client, ["customer.created"], url=f"{base}/ok")
    _endpoint(client, ["customer.created"], url=f"{base}/redirect")
    cust = client.v1.customers.create()
    assert sorted(p for p, _, _ in bodies) == ["/ok", "/redirect"]      # the redirect is not followed
    body, sig = next((b, s) for p, b, s in bodies if p == "/ok")
    event = stripe.Webhook.construct_event(body.decode(), sig, ok.secret, tolerance=None)
    assert event.data.object.id == cust.id
    statuses = sorted((a.status or 0) for a in emulator.webhooks.log)
    assert statuses == [200, 302] and len(emulator.webhooks.pending()) == 1


def test_non_loopback_urls_are_refused_at_delivery(client, emulator: Emulator, clock) -> None:
    _endpoint(client, url="https://example.com/hooks")
    client.v1.customers.create()
    attempt = emulator.webhooks.log[0]
    assert attempt.status is None and "only sends webhooks over HTTP to loopback" in str(attempt.error)
    clock.advance(timedelta(minutes=2))
    assert [a.attempt for a in emulator.webhooks.deliver()] == [2]
