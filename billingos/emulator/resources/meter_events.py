"""Billing meter events, their adjustments and event summaries, plus the metered-usage hook of the
emulator's billing engine.

- ``POST /v1/billing/meter_events``: ``event_name``, ``payload[<customer key>]``, ``payload[<value key>]``,
  ``identifier`` (unique within a rolling 24 hours: a repeat is refused with Stripe's "An event already
  exists with identifier ..."), ``timestamp`` (within the past 35 calendar days, at most 5 minutes ahead).
- ``POST /v1/billing/meter_event_adjustments``: ``type=cancel`` with ``cancel[identifier]`` (events received
  within the last 24 hours).
- ``GET /v1/billing/meters/{id}/event_summaries``: ``customer``, ``start_time``, ``end_time`` (minute
  aligned), optional ``value_grouping_window`` (``hour`` or ``day``).

Where Stripe validates asynchronously (an unknown event name or customer shows up later in an error
report), the emulator answers 400 at once, so tests see the mistake where it was made.

The events themselves live in ``em.state.meter_events``; ``..metering`` aggregates them for the billing
engine and for event summaries.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid
from ..metering import aggregate
from ..routing import Request
from ..state import MeterEventRecord

if TYPE_CHECKING:
    from ..app import Emulator

DEDUP_SECONDS = 24 * 3600
PAST_SECONDS = 35 * 86400
FUTURE_SECONDS = 5 * 60
WINDOWS = {"hour": 3600, "day": 86400}


def register(em: Emulator) -> None:
    r = em.router
    r.add("POST", "/v1/billing/meter_events", create)
    r.add("POST", "/v1/billing/meter_event_adjustments", adjust)
    r.add("GET", "/v1/billing/meters/{id}/event_summaries", summaries)


def _active_meter(em: Emulator, event_name: str) -> dict[str, Any] | None:
    for m in em.store.all("billing.meter"):
        if m["event_name"] == event_name and m["status"] == "active":
            return m
    return None


def _value(raw: Any, param: str) -> Decimal:
    try:
        d = Decimal(str(raw).strip())
        if not d.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise invalid(f"Invalid {param}: '{raw}' is not a number.", param) from None
    return d


def _fmt(d: Decimal) -> str:
    d = d.normalize()
    return str(int(d)) if d == d.to_integral_value() else f"{d:f}"


def create(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    event_name = p.str("event_name", required=True, max_length=100)
    payload = p.dict("payload", required=True)
    identifier = p.str("identifier", max_length=100)
    ts = p.int("timestamp")
    p.done()
    meter = _active_meter(em, event_name)
    if meter is None:
        raise invalid(f"No active meter was found for event_name '{event_name}'.", "event_name",
                      code="resource_missing")
    cust_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    unknown = set(payload) - {cust_key, value_key}
    if unknown:
        keys = ", ".join(sorted(unknown))
        raise invalid(f"Unknown payload keys for meter {meter['id']}: {keys}.", "payload")
    customer_id = payload.get(cust_key)
    if not isinstance(customer_id, str) or not customer_id:
        raise invalid(f"Missing required param: payload[{cust_key}].", f"payload[{cust_key}]",
                      code="parameter_missing")
    customer = em.store.find(customer_id)
    if customer is None or customer.get("object") != "customer":
        raise invalid(f"No such customer: '{customer_id}'", f"payload[{cust_key}]", code="resource_missing")
    formula = meter["default_aggregation"]["formula"]
    raw_value = payload.get(value_key)
    if raw_value is None and formula != "count":
        raise invalid(f"Missing required param: payload[{value_key}].", f"payload[{value_key}]",
                      code="parameter_missing")
    value = _value(raw_value if raw_value is not None else "1", f"payload[{value_key}]")
    now = em.now(customer)
    if ts is None:
        ts = now
    if ts < now - PAST_SECONDS or ts > now + FUTURE_SECONDS:
        raise invalid("The timestamp must be within the past 35 calendar days and not more than 5 minutes in "
                      "the future.", "timestamp")
    if identifier is None:
        identifier = f"{req.request_id}_{len(em.state.meter_events)}"
    seen = em.state.meter_event_index.get(identifier)
    if seen is not None and now - em.state.meter_events[seen].created < DEDUP_SECONDS:
        raise StripeError(f"An event already exists with identifier {identifier}.", param="identifier",
                          code="resource_already_exists")
    out_payload = {cust_key: customer_id, value_key: _fmt(value)}
    event = {"object": "billing.meter_event", "created": now, "event_name": event_name,
             "identifier": identifier, "livemode": False, "payload": out_payload, "timestamp": ts}
    em.state.meter_event_index[identifier] = len(em.state.meter_events)
    em.state.meter_events.append(MeterEventRecord(
        identifier=identifier, event_name=event_name, meter=meter["id"], customer=customer_id,
        value=_fmt(value), timestamp=ts, created=now, payload=dict(out_payload)))
    return event


def adjust(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    event_name = p.str("event_name", required=True, max_length=100)
    kind = p.str("type", choices=("cancel",), default="cancel")
    cancel = p.sub("cancel", required=True)
    assert cancel is not None
    identifier = cancel.str("identifier", required=True, max_length=100)
    cancel.done()
    p.done()
    idx = em.state.meter_event_index.get(identifier)
    record = em.state.meter_events[idx] if idx is not None else None
    if record is None or record.event_name != event_name:
        raise invalid(f"No meter event with identifier '{identifier}' for event_name '{event_name}'.",
                      "cancel[identifier]", code="resource_missing")
    now = em.now()
    if now - record.created > DEDUP_SECONDS:
        raise invalid("You can only cancel events within 24 hours of Stripe receiving them.",
                      "cancel[identifier]")
    record.canceled = True
    digest = hashlib.sha256(f"adj:{identifier}:{now}".encode()).hexdigest()[:24]
    return {"id": f"mtrevtadj_{digest}", "object": "billing.meter_event_adjustment", "cancel":
            {"identifier": identifier}, "event_name": event_name, "livemode": False, "status": "complete",
            "type": kind}


def summaries(em: Emulator, req: Request) -> dict[str, Any]:
    meter = em.store.get("billing.meter", req.args["id"], label="billing meter")
    p = req.params
    customer = p.str("customer", required=True)
    start = p.int("start_time", required=True)
    end = p.int("end_time", required=True)
    window = p.str("value_grouping_window", choices=tuple(WINDOWS))
    for name, ts in (("start_time", start), ("end_time", end)):
        if ts % 60:
            raise invalid(f"{name} must be aligned with minute boundaries.", name)
    if end <= start:
        raise invalid("end_time must be after start_time.", "end_time")
    cust = em.store.find(customer)
    if cust is None or cust.get("object") != "customer":
        raise invalid(f"No such customer: '{customer}'", "customer", code="resource_missing")
    bounds: list[tuple[int, int]] = []
    if window is None:
        bounds = [(start, end)]
    else:
        step, t = WINDOWS[window], start
        while t < end:
            nxt = min((t // step + 1) * step, end)
            bounds.append((t, nxt))
            t = nxt
    items = [_summary(em, meter, customer, a, b) for a, b in bounds]
    url = f"/v1/billing/meters/{meter['id']}/event_summaries"
    return em.store.page(p, list(reversed(items)), url)


def _summary(em: Emulator, meter: dict[str, Any], customer: str, start: int, end: int) -> dict[str, Any]:
    value = aggregate(em, meter, customer, start, end)
    digest = hashlib.sha256(f"{meter['id']}:{customer}:{start}:{end}".encode()).hexdigest()[:40]
    return {"id": f"mtrusg_{digest}", "object": "billing.meter_event_summary",
            "aggregated_value": float(value), "end_time": end, "livemode": False, "meter": meter["id"],
            "start_time": start}
