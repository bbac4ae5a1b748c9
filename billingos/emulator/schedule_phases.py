"""Subscription schedule params: phases parsed, laid end to end and checked against the schedule they
replace. Writes nothing, so a refused create or update leaves no trace.

Phase lengths: ``end_date``, or ``duration`` (``interval``, ``interval_count``); neither means one interval of
the phase's first price. ``iterations`` was removed from the API in 2025-09-30.clover and is refused.
Phase settings other than items, metadata, currency and proration_behavior are refused as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .billing_common import ABSENT, add_interval, timestamp_param
from .errors import StripeError, invalid
from .params import Params
from .schedule_shapes import current_phase, phase, phase_item
from .subscription_changes import ItemChange, parse_item_changes, validate_items
from .subscription_update import PRORATION_BEHAVIORS

if TYPE_CHECKING:
    from .app import Emulator

UNSUPPORTED_PHASE = ("add_invoice_items", "application_fee_percent", "automatic_tax", "billing_cycle_anchor",
                     "billing_thresholds", "collection_method", "default_payment_method", "default_tax_rates",
                     "description", "discounts", "invoice_settings", "on_behalf_of", "transfer_data", "trial",
                     "trial_end")
UNSUPPORTED_TOP = ("default_settings", "billing_mode", "pause_schedules", "customer_account")


@dataclass
class PhaseSpec:
    changes: list[ItemChange]
    start: Any          # ABSENT, "now" or a timestamp (updates only)
    end: Any            # ABSENT or a timestamp
    duration: tuple[str, int] | None
    proration_behavior: str
    metadata: dict[str, str]
    currency: str
    name: str


def refuse_unsupported(p: Params, keys: tuple[str, ...]) -> None:
    for key in keys:
        if p.get(key) not in (None, "", [], {}):
            raise invalid(f"{p._name(key)} is not supported by the billingos emulator's subscription schedules.",
                          p._name(key))


def parse_phases(em: Emulator, p: Params, *, update: bool) -> list[PhaseSpec] | None:
    entries = p.hashes("phases")
    if entries is None:
        return None
    if not entries:
        raise invalid("phases must contain at least one phase.", "phases")
    return [_parse_phase(em, ph, update) for ph in entries]


def _parse_phase(em: Emulator, ph: Params, update: bool) -> PhaseSpec:
    name = ph.prefix
    refuse_unsupported(ph, UNSUPPORTED_PHASE)
    if ph.has("iterations"):
        raise invalid(f"Received unknown parameter: {name}[iterations]. It was removed in API version "
                      "2025-09-30.clover; use duration[interval] and duration[interval_count].",
                      f"{name}[iterations]")
    changes = parse_item_changes(em, ph, "items", create=True)
    if not changes:
        raise StripeError(f"Missing required param: {name}[items].", param=f"{name}[items]",
                          code="parameter_missing")
    validate_items([{"price": c.price} for c in changes], f"{name}[items]")
    start = timestamp_param(ph, "start_date", allow_now=True) if update else ABSENT
    end = timestamp_param(ph, "end_date")
    duration = _duration(ph)
    if end is not ABSENT and duration is not None:
        raise invalid("You may only specify one of these parameters: duration, end_date.", f"{name}[end_date]")
    behavior = ph.str("proration_behavior", choices=PRORATION_BEHAVIORS, default="create_prorations")
    metadata = ph.metadata({}) or {}
    currency = changes[0].price["currency"] if changes[0].price else "usd"
    given = ph.str("currency")
    if given is not None and given.lower() != currency:
        raise invalid(f"The currency {given} does not match the currency of {name}'s prices ({currency}).",
                      f"{name}[currency]")
    ph.done()
    return PhaseSpec(changes, start, end, duration, behavior, metadata, currency, name)


def _duration(ph: Params) -> tuple[str, int] | None:
    d = ph.sub("duration")
    if d is None:
        return None
    interval = d.str("interval", required=True, choices=("day", "week", "month", "year"))
    count = d.int("interval_count", min=1, max=1000, default=1)
    d.done()
    return interval, count


def timeline(specs: list[PhaseSpec], first_start: int) -> list[tuple[int, int]]:
    """Each phase's [start, end): contiguous, each starting where the previous one ends."""
    out = []
    start = first_start
    for i, s in enumerate(specs):
        if i > 0 and s.start is not ABSENT and s.start != start:
            raise invalid(f"{s.name}[start_date] must equal the end_date of phases[{i - 1}] ({start}): "
                          "phases must be contiguous.", f"{s.name}[start_date]")
        if s.end is not ABSENT:
            end = int(s.end)
        else:
            rec = (s.changes[0].price or {}).get("recurring") or {}
            interval, count = s.duration or (rec["interval"], int(rec.get("interval_count") or 1))
            end = add_interval(start, interval, count)
        if end <= start:
            raise invalid(f"{s.name}[end_date] must be after the phase's start_date ({start}).",
                          f"{s.name}[end_date]")
        out.append((start, end))
        start = end
    return out


def build_phases(em: Emulator, specs: list[PhaseSpec], windows: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [phase([phase_item(em, c.price, c.quantity, c.metadata or {}, c.tax_rates or [])
                   for c in s.changes if c.price is not None], w, s.currency, s.proration_behavior, s.metadata)
            for s, w in zip(specs, windows, strict=True)]


def replan(em: Emulator, sched: dict[str, Any], specs: list[PhaseSpec], at: int,
           sub: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    """The schedule's phases after an update (phases already ended are kept) and its new current_phase."""
    first = specs[0]
    active = sched["status"] == "active"
    if active:
        start = sched["current_phase"]["start_date"]
        if first.start is not ABSENT and (at if first.start == "now" else first.start) != start:
            raise invalid("You can not modify the start date of the current phase.", "phases[0][start_date]")
        past = [ph for ph in sched["phases"] if ph["end_date"] <= start]
    else:
        start = sched["phases"][0]["start_date"] if first.start is ABSENT else first.start
        start = at if start == "now" else int(start)
        if start <= at:
            raise invalid("The start_date of a schedule that has not started must be in the future.",
                          "phases[0][start_date]")
        past = []
    windows = timeline(specs, start)
    if active and windows[0][1] <= at:
        raise invalid("The current phase's end_date must be in the future.", "phases[0][end_date]")
    currency = sub["currency"] if sub is not None else specs[0].currency
    for s in specs:
        if s.currency != currency:
            raise invalid(f"The prices of {s.name} must be in the subscription's currency ({currency}).",
                          f"{s.name}[items]")
    return past + build_phases(em, specs, windows), current_phase(windows[0]) if active else None
