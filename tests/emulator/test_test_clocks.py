from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe

from billingos.emulator import Emulator

FIXTURES = Path("/work/shared/stripe/fixtures3.json")
T0 = 1_767_225_600      # 2026-01-01T00:00:00Z
DAY = 86_400


@pytest.fixture
def test_clock(client):
    return client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0, "name": "renewals"})


def _types(client) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]


def test_create_and_retrieve(client, test_clock, clock) -> None:
    now = int(clock.now().timestamp())
    assert test_clock.id.startswith("clock_")
    assert (test_clock.frozen_time, test_clock.name, test_clock.status) == (T0, "renewals", "ready")
    assert test_clock.created == now and test_clock.deletes_after > now
    fixture = json.loads(FIXTURES.read_text())["resources"]["test_helpers.test_clock"]
    got = client.v1.test_helpers.test_clocks.retrieve(test_clock.id)
    assert set(fixture) <= set(got.to_dict()) and got.frozen_time == T0
    assert _types(client) == ["test_helpers.test_clock.created"]


def test_create_requires_frozen_time(client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.create(params={"name": "x"})
    assert (exc.value.param, exc.value.code) == ("frozen_time", "parameter_missing")
    assert client.v1.test_helpers.test_clocks.list().data == []


def test_customers_on_a_clock_live_at_its_time(client, test_clock, emulator: Emulator) -> None:
    cust = client.v1.customers.create(params={"test_clock": test_clock.id})
    assert cust.test_clock == test_clock.id and cust.created == T0
    client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + 3 * DAY})
    assert emulator.now(emulator.store.get("customer", cust.id)) == T0 + 3 * DAY
    pm = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cust.id})
    assert pm.created == T0 + 3 * DAY


def test_advance_answers_advancing_then_is_ready(client, test_clock) -> None:
    answer = client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + DAY})
    assert answer.status == "advancing" and answer.frozen_time == T0
    assert answer.status_details.advancing.target_frozen_time == T0 + DAY
    ready = client.v1.test_helpers.test_clocks.retrieve(test_clock.id)
    assert (ready.status, ready.frozen_time) == ("ready", T0 + DAY)
    assert ready.status_details.to_dict() == {}
    assert _types(client)[-2:] == ["test_helpers.test_clock.advancing", "test_helpers.test_clock.ready"]


def test_advance_refuses_going_back_or_too_far(client, test_clock) -> None:
    for target in (T0, T0 - 1):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": target})
        assert exc.value.param == "frozen_time" and "must be after" in str(exc.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as exc2:
        client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + 3 * 365 * DAY})
    assert "two years" in str(exc2.value.user_message)
    got = client.v1.test_helpers.test_clocks.retrieve(test_clock.id)
    assert (got.frozen_time, got.status) == (T0, "ready")
    assert "test_helpers.test_clock.advancing" not in _types(client)


def test_advance_limit_follows_the_shortest_subscription(client, test_clock, emulator: Emulator) -> None:
    cust = client.v1.customers.create(params={"test_clock": test_clock.id})
    emulator.store.insert({"id": "sub_weekly", "object": "subscription", "customer": cust.id,
                           "status": "active", "items": {"object": "list", "data": [
                               {"price": {"recurring": {"interval": "week", "interval_count": 1}}}]}})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + 15 * DAY})
    assert "two intervals" in str(exc.value.user_message)
    ok = client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + 14 * DAY})
    assert ok.status_details.advancing.target_frozen_time == T0 + 14 * DAY


def test_advance_hooks_run_in_order_before_ready(client, test_clock, emulator: Emulator) -> None:
    calls: list[tuple[Any, ...]] = []

    def first(em: Emulator, clock_obj: dict[str, Any], old: int, new: int) -> None:
        calls.append(("first", clock_obj["id"], clock_obj["status"], old, new))

    def second(em: Emulator, clock_obj: dict[str, Any], old: int, new: int) -> None:
        calls.append(("second", clock_obj["status"]))

    emulator.hooks.clock_advance += [first, second]
    client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + DAY})
    assert calls == [("first", test_clock.id, "advancing", T0, T0 + DAY), ("second", "advancing")]


def test_a_failing_hook_marks_internal_failure(client, test_clock, emulator: Emulator) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("renewal crashed")

    emulator.hooks.clock_advance.append(broken)
    with pytest.raises(RuntimeError, match="renewal crashed"):
        client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + DAY})
    got = client.v1.test_helpers.test_clocks.retrieve(test_clock.id)
    assert (got.status, got.frozen_time) == ("internal_failure", T0)
    assert _types(client)[-1] == "test_helpers.test_clock.internal_failure"


def test_delete_takes_its_customers_along(client, test_clock) -> None:
    on_clock = client.v1.customers.create(params={"test_clock": test_clock.id})
    elsewhere = client.v1.customers.create()
    gone = client.v1.test_helpers.test_clocks.delete(test_clock.id)
    assert (gone.id, gone.deleted) == (test_clock.id, True)
    assert client.v1.customers.retrieve(on_clock.id).deleted is True
    assert [c.id for c in client.v1.customers.list().data] == [elsewhere.id]
    assert _types(client)[-2:] == ["customer.deleted", "test_helpers.test_clock.deleted"]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.test_helpers.test_clocks.retrieve(test_clock.id)
    assert exc.value.http_status == 404 and "No such test clock" in str(exc.value.user_message)


def test_list_paginates(client) -> None:
    ids = [client.v1.test_helpers.test_clocks.create(params={"frozen_time": T0 + i}).id for i in range(3)]
    page = client.v1.test_helpers.test_clocks.list(params={"limit": 2})
    assert [c.id for c in page.data] == [ids[2], ids[1]] and page.has_more is True
    rest = client.v1.test_helpers.test_clocks.list(params={"starting_after": ids[1]})
    assert [c.id for c in rest.data] == [ids[0]] and rest.has_more is False


def test_clock_events_reach_webhooks(client, test_clock, emulator: Emulator) -> None:
    we = client.v1.webhook_endpoints.create(params={
        "url": "http://127.0.0.1:9/h", "enabled_events": ["test_helpers.test_clock.ready"]})
    got: list[str] = []
    emulator.webhooks.connect(we.url, lambda body, headers: got.append(json.loads(body)["type"]) or 200)
    client.v1.test_helpers.test_clocks.advance(test_clock.id, params={"frozen_time": T0 + DAY})
    assert got == ["test_helpers.test_clock.ready"]
