"""Billing meter events, adjustments and event summaries in the emulator, through the real stripe SDK;
and the metered-usage hook that rates metered invoice lines at renewal."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe

from billingos.emulator import Emulator
from billingos.emulator.metering import usage_quantity

from .billing_kit import DAY, T0, advance, customer

H = 3600


def _meter(client, formula: str = "sum", event_name: str = "api_calls", **extra):
    return client.v1.billing.meters.create(params={"display_name": event_name, "event_name": event_name,
                                                   "default_aggregation": {"formula": formula}, **extra})


def _send(client, cust: str, value, *, event_name: str = "api_calls", **extra):
    return client.v1.billing.meter_events.create(params={
        "event_name": event_name, "payload": {"stripe_customer_id": cust, "value": str(value)}, **extra})


def _summary(client, meter_id: str, cust: str, start: int, end: int, **extra) -> list[tuple[int, int, float]]:
    page = client.v1.billing.meters.event_summaries.list(
        meter_id, params={"customer": cust, "start_time": start, "end_time": end, **extra})
    return [(s.start_time, s.end_time, s.aggregated_value) for s in page.data]


def test_create_has_stripe_shape(client) -> None:
    _meter(client)
    cust = customer(client, card=None)
    ev = _send(client, cust.id, 25, identifier="idmp_1")
    assert ev.object == "billing.meter_event"
    assert ev.identifier == "idmp_1" and ev.event_name == "api_calls"
    assert ev.payload.to_dict() == {"stripe_customer_id": cust.id, "value": "25"}
    assert ev.timestamp == ev.created == T0
    assert ev.livemode is False


def test_identifier_is_unique_for_24_hours(client, emulator: Emulator, clock) -> None:
    m = _meter(client)
    cust = customer(client, card=None)
    _send(client, cust.id, 5, identifier="same")
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _send(client, cust.id, 5, identifier="same")
    assert "already exists with identifier same" in str(exc.value.user_message)
    assert exc.value.http_status == 400
    assert _summary(client, m.id, cust.id, T0, T0 + H) == [(T0, T0 + H, 5.0)]
    clock.advance(hours=24, seconds=1)
    _send(client, cust.id, 5, identifier="same")          # Stripe's window has passed
    assert _summary(client, m.id, cust.id, T0, T0 + 2 * DAY)[0][2] == 10.0


def test_generated_identifiers_never_collide(client) -> None:
    m = _meter(client)
    cust = customer(client, card=None)
    ids = {_send(client, cust.id, 1).identifier for _ in range(5)}
    assert len(ids) == 5
    assert _summary(client, m.id, cust.id, T0, T0 + 60)[0][2] == 5.0


@pytest.mark.parametrize("offset,ok", [(-35 * DAY, True), (-35 * DAY - 1, False), (300, True), (301, False)])
def test_timestamp_window(client, offset: int, ok: bool) -> None:
    _meter(client)
    cust = customer(client, card=None)
    if ok:
        assert _send(client, cust.id, 1, timestamp=T0 + offset).timestamp == T0 + offset
    else:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            _send(client, cust.id, 1, timestamp=T0 + offset)
        assert exc.value.param == "timestamp"


@pytest.mark.parametrize("params,param", [
    ({"event_name": "nope", "payload": {"stripe_customer_id": "cus_x", "value": "1"}}, "event_name"),
    ({"event_name": "api_calls", "payload": {"value": "1"}}, "payload[stripe_customer_id]"),
    ({"event_name": "api_calls", "payload": {"stripe_customer_id": "cus_missing", "value": "1"}},
     "payload[stripe_customer_id]"),
    ({"event_name": "api_calls", "payload": {"stripe_customer_id": "CUST", "value": "abc"}}, "payload[value]"),
    ({"event_name": "api_calls", "payload": {"stripe_customer_id": "CUST", "value": "NaN"}}, "payload[value]"),
    ({"event_name": "api_calls", "payload": {"stripe_customer_id": "CUST"}}, "payload[value]"),
    ({"event_name": "api_calls", "payload": {"stripe_customer_id": "CUST", "value": "1", "x": "2"}}, "payload"),
    ({"event_name": "api_calls", "payload": {"stripe_customer_id": "CUST", "value": "1"},
      "identifier": "x" * 101}, "identifier"),
])
def test_bad_events_are_refused_and_not_counted(client, emulator: Emulator, params, param) -> None:
    m = _meter(client)
    cust = customer(client, card=None)
    payload = {k: (cust.id if v == "CUST" else v) for k, v in params["payload"].items()}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing.meter_events.create(params={**params, "payload": payload})
    assert exc.value.param == param
    assert _summary(client, m.id, cust.id, T0 - DAY, T0 + DAY) == [(T0 - DAY, T0 + DAY, 0.0)]


def test_custom_payload_keys(client) -> None:
    m = _meter(client, customer_mapping={"type": "by_id", "event_payload_key": "cust"},
               value_settings={"event_payload_key": "tokens"})
    cust = customer(client, card=None)
    client.v1.billing.meter_events.create(params={"event_name": "api_calls",
                                                  "payload": {"cust": cust.id, "tokens": "7"}})
    assert _summary(client, m.id, cust.id, T0, T0 + 60)[0][2] == 7.0


def test_aggregation_formulas(client, clock) -> None:
    s, c, last = _meter(client, "sum", "s"), _meter(client, "count", "c"), _meter(client, "last", "l")
    cust = customer(client, card=None)
    for i, v in enumerate([5, 2, 9]):
        for name in ("s", "c", "l"):
            _send(client, cust.id, v, event_name=name, timestamp=T0 - 100 + i)
    _send(client, cust.id, 4, event_name="l", timestamp=T0 - 200)      # older: not the last value
    assert _summary(client, s.id, cust.id, T0 - H, T0 + H)[0][2] == 16.0
    assert _summary(client, c.id, cust.id, T0 - H, T0 + H)[0][2] == 3.0
    assert _summary(client, last.id, cust.id, T0 - H, T0 + H)[0][2] == 9.0


def test_negative_and_decimal_values_sum(client) -> None:
    m = _meter(client)
    cust = customer(client, card=None)
    _send(client, cust.id, 10)
    _send(client, cust.id, -3)
    _send(client, cust.id, "0.5")
    assert _summary(client, m.id, cust.id, T0, T0 + 60)[0][2] == 7.5


def test_summaries_group_by_hour_and_day(client) -> None:
    m = _meter(client)
    cust = customer(client, card=None)
    day0 = T0 - T0 % DAY - DAY     # yesterday, 00:00 UTC
    for ts, v in [(day0 + 10, 1), (day0 + H + 5, 2), (day0 + H + 6, 3), (day0 + DAY + 1, 4)]:
        _send(client, cust.id, v, timestamp=ts)
    hourly = _summary(client, m.id, cust.id, day0, day0 + 3 * H, value_grouping_window="hour")
    assert hourly == [(day0, day0 + H, 1.0), (day0 + H, day0 + 2 * H, 5.0), (day0 + 2 * H, day0 + 3 * H, 0.0)]
    daily = _summary(client, m.id, cust.id, day0, day0 + 2 * DAY, value_grouping_window="day")
    assert daily == [(day0, day0 + DAY, 6.0), (day0 + DAY, day0 + 2 * DAY, 4.0)]
    other = customer(client, card=None)
    assert _summary(client, m.id, other.id, day0, day0 + 2 * DAY) == [(day0, day0 + 2 * DAY, 0.0)]


@pytest.mark.parametrize("start,end,param", [(T0 + 1, T0 + 60, "start_time"), (T0, T0 + 61, "end_time"),
                                             (T0 + 60, T0, "end_time")])
def test_summaries_need_minute_aligned_ranges(client, start: int, end: int, param: str) -> None:
    m = _meter(client)
    cust = customer(client, card=None)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        _summary(client, m.id, cust.id, start, end)
    assert exc.value.param == param


def test_cancel_adjustment(client, clock) -> None:
    m = _meter(client)
    cust = customer(client, card=None)
    _send(client, cust.id, 10, identifier="a")
    _send(client, cust.id, 4, identifier="b")
    adj = client.v1.billing.meter_event_adjustments.create(params={
        "event_name": "api_calls", "type": "cancel", "cancel": {"identifier": "a"}})
    assert adj.object == "billing.meter_event_adjustment" and adj.cancel.identifier == "a"
    assert adj.type == "cancel"
    assert _summary(client, m.id, cust.id, T0, T0 + 60)[0][2] == 4.0
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing.meter_event_adjustments.create(params={
            "event_name": "api_calls", "type": "cancel", "cancel": {"identifier": "zzz"}})
    clock.advance(timedelta(hours=25))
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.billing.meter_event_adjustments.create(params={
            "event_name": "api_calls", "type": "cancel", "cancel": {"identifier": "b"}})
    assert "24 hours" in str(exc.value.user_message)
    assert _summary(client, m.id, cust.id, T0, T0 + 60)[0][2] == 4.0


def test_metered_invoice_lines_use_the_meter_events(client, emulator: Emulator, clock) -> None:
    meter = _meter(client)
    prod = client.v1.products.create(params={"name": "API"})
    price = client.v1.prices.create(params={
        "product": prod.id, "currency": "usd", "billing_scheme": "tiered", "tiers_mode": "graduated",
        "tiers": [{"up_to": 100, "unit_amount": 0, "flat_amount": 500},
                  {"up_to": "inf", "unit_amount_decimal": "2.5"}],
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id}})
    cust = customer(client)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price.id}]})
    _send(client, cust.id, 150, timestamp=T0 + 10)
    _send(client, cust.id, 51, timestamp=T0 + 20)
    advance(emulator, clock, days=10)
    _send(client, cust.id, 1000, timestamp=T0 + 10 * DAY)
    other = customer(client, card=None)
    _send(client, other.id, 99999)                     # someone else's usage never counts
    advance(emulator, clock, days=30)
    inv = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    line = next(ln for ln in inv.lines.data if ln.period.end == T0 + 31 * DAY)
    assert line.quantity == 1201
    assert line.amount == 3253                          # 500 + 1101 x 2.5 = 3252.5 -> 3253 (half up)
    item = emulator.store.objects[sub.id]["items"]["data"][0]
    assert usage_quantity(emulator, item, T0, T0 + 31 * DAY) == 1201
