"""Billing meters in the emulator, through the real stripe SDK."""

from __future__ import annotations

import pytest
import stripe

from billingos.emulator import Emulator


def _create(client, **extra):
    params = {
        "display_name": "API calls",
        "event_name": "api_calls",
        "default_aggregation": {"formula": "sum"},
        **extra,
    }
    return client.v1.billing.meters.create(params=params)


def test_create_has_stripe_shape(client, emulator: Emulator) -> None:
    m = _create(
        client,
        customer_mapping={"type": "by_id", "event_payload_key": "customer"},
        value_settings={"event_payload_key": "calls"},
    )
    assert m.object == "billing.meter"
    assert m.id.startswith("mtr_")
    assert m.status == "active"
    assert m.event_name == "api_calls"
    assert m.display_name == "API calls"
    assert m.default_aggregation.formula == "sum"
    assert m.customer_mapping.to_dict() == {"event_payload_key": "customer", "type": "by_id"}
    assert m.value_settings.event_payload_key == "calls"
    assert m.status_transitions.deactivated_at is None
    assert m.event_time_window is None
    assert m.created == m.updated == int(emulator.clock.now().timestamp())
    events = client.v1.events.list(params={"type": "billing.meter.created"})
    assert [e.data.object.id for e in events.data] == [m.id]


def test_defaults_follow_stripe(client) -> None:
    m = _create(client, default_aggregation={"formula": "count"})
    assert m.customer_mapping.to_dict() == {"event_payload_key": "stripe_customer_id", "type": "by_id"}
    assert m.value_settings.event_payload_key == "value"
    assert m.default_aggregation.formula == "count"


@pytest.mark.parametrize(
    "params,param",
    [
        ({"display_name": "x", "default_aggregation": {"formula": "sum"}}, "event_name"),
        ({"display_name": "x", "event_name": "e"}, "default_aggregation"),
        ({"event_name": "e", "default_aggregation": {"formula": "sum"}}, "display_name"),
        (
            {"display_name": "x", "event_name": "e", "default_aggregation": {"formula": "max"}},
            "default_aggregation[formula]",
        ),
        (
            {
                "display_name": "x",
                "event_name": "e",
                "default_aggregation": {"formula": "sum"},
                "customer_mapping": {"type": "by_email", "event_payload_key": "c"},
            },
            "customer_mapping[type]",
        ),
        (
            {"display_name": "x", "event_name": "has space", "default_aggregation": {"formula": "sum"}},
            "event_name",
        ),
        (
            {"display_name": "x", "event_name": "e", "default_aggregation": {"formula": "sum"}, "bogus": "1"},
            "bogus",
        ),
    ],
)
def test_create_rejects_bad_params(client, emulator: Emulator, params, param) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing.meters.create(params=params)
    assert exc.value.param == param
    assert emulator.store.all("billing.meter") == []


def test_event_name_unique_among_active(client) -> None:
    first = _create(client)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _create(client)
    assert exc.value.code == "resource_already_exists"
    client.v1.billing.meters.deactivate(first.id)
    second = _create(client)  # free again once the first is inactive
    assert second.id != first.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing.meters.reactivate(first.id)  # would clash with the second


def test_retrieve_list_and_filter(client) -> None:
    a = _create(client, event_name="a")
    b = _create(client, event_name="b")
    client.v1.billing.meters.deactivate(a.id)
    assert client.v1.billing.meters.retrieve(b.id).event_name == "b"
    assert [m.id for m in client.v1.billing.meters.list().data] == [b.id, a.id]  # newest first
    assert [m.id for m in client.v1.billing.meters.list(params={"status": "active"}).data] == [b.id]
    assert [m.id for m in client.v1.billing.meters.list(params={"status": "inactive"}).data] == [a.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing.meters.retrieve("mtr_missing")
    assert exc.value.http_status == 404


def test_update_only_display_name(client, emulator: Emulator, clock) -> None:
    m = _create(client)
    clock.advance(seconds=60)
    u = client.v1.billing.meters.update(m.id, params={"display_name": "Requests"})
    assert u.display_name == "Requests"
    assert u.event_name == "api_calls"
    assert u.updated == m.updated + 60
    ev = client.v1.events.list(params={"type": "billing.meter.updated"}).data[0]
    assert ev.data.previous_attributes.to_dict() == {"display_name": "API calls"}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing.meters.update(m.id, params={"event_name": "other"})  # type: ignore[typeddict-unknown-key]
    assert exc.value.param == "event_name"


def test_deactivate_reactivate(client, emulator: Emulator) -> None:
    m = _create(client)
    d = client.v1.billing.meters.deactivate(m.id)
    assert d.status == "inactive"
    assert d.status_transitions.deactivated_at == int(emulator.clock.now().timestamp())
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing.meters.deactivate(m.id)
    r = client.v1.billing.meters.reactivate(m.id)
    assert r.status == "active"
    assert r.status_transitions.deactivated_at is None
    types = [e.type for e in client.v1.events.list().data]
    assert types[:2] == ["billing.meter.reactivated", "billing.meter.deactivated"]


def test_idempotent_create(client, emulator: Emulator) -> None:
    params = {"display_name": "API", "event_name": "api", "default_aggregation": {"formula": "last"}}
    a = client.v1.billing.meters.create(params=params, options={"idempotency_key": "k1"})
    b = client.v1.billing.meters.create(params=params, options={"idempotency_key": "k1"})
    assert a.id == b.id
    assert len(emulator.store.all("billing.meter")) == 1
