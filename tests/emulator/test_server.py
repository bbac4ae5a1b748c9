from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import stripe

from billingos.emulator import Emulator
from billingos.emulator.server import EmulatorServer, serve, serve_in_thread


@pytest.fixture
def server(emulator: Emulator) -> Iterator[EmulatorServer]:
    srv = serve_in_thread(emulator, port=0)
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def http_client(server: EmulatorServer) -> stripe.StripeClient:
    """The SDK with its default HTTP client, over real sockets."""
    port = server.server_address[1]
    return stripe.StripeClient("sk_test_over_http", base_addresses={"api": f"http://127.0.0.1:{port}"},
                               max_network_retries=0)


def test_customers_round_trip_over_http(http_client, emulator: Emulator) -> None:
    made = [http_client.v1.customers.create(params={"email": f"h{i}@b.co", "metadata": {"i": str(i)}})
            for i in range(3)]
    listed = http_client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in listed.data] == [made[2].id, made[1].id] and listed.has_more is True
    assert http_client.v1.customers.retrieve(made[0].id).metadata.to_dict() == {"i": "0"}
    assert [m for m, _, s in emulator.request_log if s == 200].count("POST") == 3


def test_errors_keep_their_status_over_http(http_client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        http_client.v1.customers.retrieve("cus_nope")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    assert exc.value.user_message == "No such customer: 'cus_nope'"
    assert exc.value.request_id and exc.value.request_id.startswith("req_")


def test_idempotency_and_headers_pass_through(http_client, server: EmulatorServer) -> None:
    a = http_client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k-1"})
    b = http_client.v1.customers.create(params={"name": "A"}, options={"idempotency_key": "k-1"})
    assert a.id == b.id and b.last_response.headers.get("idempotent-replayed") == "true"
    port = server.server_address[1]
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/customers?limit=1",
                                 headers={"Authorization": "Bearer sk_test_raw"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = json.loads(resp.read())
    assert resp.status == 200 and body["object"] == "list" and body["data"][0]["id"] == a.id


def test_unauthenticated_raw_request_gets_401(server: EmulatorServer) -> None:
    port = server.server_address[1]
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/customers", timeout=5)
    assert exc.value.code == 401
    assert "did not provide an API key" in json.loads(exc.value.read())["error"]["message"]


def test_outage_drops_the_connection(http_client, emulator: Emulator) -> None:
    emulator.faults.down = True
    with pytest.raises(stripe.APIConnectionError):
        http_client.v1.customers.list()
    emulator.faults.down = False
    assert http_client.v1.customers.list().data == []


def test_webhooks_are_delivered_when_served_over_http(http_client, emulator: Emulator) -> None:
    got: list[str] = []
    we = http_client.v1.webhook_endpoints.create(params={"url": "http://127.0.0.1:9/h",
                                                         "enabled_events": ["customer.created"]})
    emulator.webhooks.connect(we.url, lambda body, headers: got.append(json.loads(body)["type"]) or 200)
    http_client.v1.customers.create()
    assert got == ["customer.created"]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", ""])
def test_refuses_non_loopback_hosts(emulator: Emulator, host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        serve(emulator, host=host, port=0)


def test_serve_binds_without_serving(emulator: Emulator) -> None:
    srv = serve(emulator, port=0)
    try:
        assert srv.server_address[0] == "127.0.0.1" and srv.server_address[1] > 0
        assert srv.emulator is emulator
    finally:
        srv.server_close()


def test_a_crash_inside_the_emulator_is_a_500_not_a_dropped_socket(http_client, emulator: Emulator) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("hook bug")

    emulator.hooks.clock_advance.append(broken)
    clock = http_client.v1.test_helpers.test_clocks.create(params={"frozen_time": 1_767_225_600})
    with pytest.raises(stripe.APIError) as exc:
        http_client.v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": 1_767_225_601})
    assert exc.value.http_status == 500 and "hook bug" in str(exc.value.user_message)
    assert http_client.v1.test_helpers.test_clocks.retrieve(clock.id).status == "internal_failure"


def test_a_receiver_calling_back_over_http_from_another_thread_does_not_deadlock(
        http_client, emulator: Emulator) -> None:
    """Deliveries run after the emulator lock is released, so the callback's server thread gets it."""
    seen: list[str | None] = []
    we = http_client.v1.webhook_endpoints.create(params={"url": "http://127.0.0.1:9/h",
                                                         "enabled_events": ["customer.created"]})

    def receiver(body: bytes, headers: dict[str, str]) -> int:
        obj = json.loads(body)["data"]["object"]
        seen.append(http_client.v1.customers.retrieve(obj["id"]).email)   # a second HTTP request
        return 200

    emulator.webhooks.connect(we.url, receiver)
    http_client.v1.customers.create(params={"email": "loop@b.co"})
    assert seen == ["loop@b.co"] and emulator.webhooks.log[-1].status == 200


def test_basic_auth_with_the_key_as_user_name_is_accepted() -> None:
    """``curl -u sk_test_...:`` works against Stripe, so it works here."""
    import base64
    import json
    import urllib.request

    from billingos.emulator import Emulator, serve_in_thread
    server = serve_in_thread(Emulator(), port=0)
    try:
        port = server.server_address[1]
        token = base64.b64encode(b"sk_test_curl:").decode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/customers", data=b"email=curl%40b.co",
                                     headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(req) as resp:
            assert json.loads(resp.read())["email"] == "curl@b.co"
    finally:
        server.shutdown()
        server.server_close()
