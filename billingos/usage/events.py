"""Validating usage events: one at a time for ``track`` and into columns for ``track_many``.

A bulk load is held as an ``EventBatch``: one list per field. 100,000 events then cost a few lists of
strings and ints, not 100,000 tuples, which CPython's cyclic GC would otherwise rescan again and again
while the batch grows (it doubled the Python time of a load)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .. import validation
from ..errors import InvalidInputError
from .schemas import MeterDef, UsageEvent

__all__ = ["FUTURE_SKEW", "MAX_VALUE", "EventBatch", "collect", "event_name", "idempotency_key", "properties",
           "timestamp", "unique_value", "value"]

#: The largest value one event may carry.
MAX_VALUE = 10**12
FUTURE_SKEW = timedelta(minutes=5)          # as Stripe: events at most 5 minutes ahead of the clock
_KEY = re.compile(r"[\x21-\x7e]{1,255}")   # visible ASCII, no spaces (validation.idempotency_key, inlined)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_FIELDS = frozenset({"owner_id", "meter", "value", "idempotency_key", "timestamp", "properties"})


def event_name(raw: Any) -> str:
    return validation.meter_name(raw, "meter")


def idempotency_key(raw: Any, param: str = "idempotency_key") -> str:
    return validation.idempotency_key(raw, param)


def value(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
        raise InvalidInputError(f"value must be a whole number of units, got {validation.echo(raw)}.", param="value")
    finite = math.isfinite(raw) if isinstance(raw, float) else not isinstance(raw, Decimal) or raw.is_finite()
    if not finite:
        raise InvalidInputError(f"value must be finite, got {raw!r}.", param="value")
    if raw != int(raw):
        raise InvalidInputError(f"value must be a whole number of units (scale the unit, e.g. milliseconds), "
                                f"got {validation.echo(raw)}.", param="value")
    v = int(raw)
    if v < 0:
        raise InvalidInputError(f"value must be >= 0, got {v:,}; correct an event with billing.usage.adjust().",
                                param="value")
    if v > MAX_VALUE:
        raise InvalidInputError(f"value must be at most {MAX_VALUE:,} per event, got {validation.echo(v)}.",
                                param="value")
    return v


def timestamp(raw: Any, now: datetime, future: timedelta | None = FUTURE_SKEW, param: str = "timestamp") -> datetime:
    if raw is None:
        return now
    ts = validation.aware_datetime(raw, param).astimezone(UTC)
    if future is not None and ts > now + future:
        raise InvalidInputError(f"{param} {ts.isoformat()} is more than {future} in the future.", param=param)
    if ts < _EPOCH:
        raise InvalidInputError(f"{param} {ts.isoformat()} is not plausible (before 2000).", param=param)
    return ts


def properties(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    raw = validation.json_object(raw, "properties", max_depth=8)
    try:
        encoded = json.dumps(dict(raw), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"properties must be JSON (strings, numbers, lists, dicts): {e}.",
                                param="properties") from None
    if len(encoded) > 4096:
        raise InvalidInputError("properties must be at most 4 KB of JSON.", param="properties")
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def unique_value(m: MeterDef, props: dict[str, Any] | None) -> str:
    """What a ``unique_count`` meter counts distinct values of: ``properties[unique_by]``, as text."""
    raw = (props or {}).get(m.unique_by or "")
    if raw is None or isinstance(raw, (dict, list)):
        raise InvalidInputError(f"meter {m.event_name!r} counts distinct properties[{m.unique_by!r}]: "
                                "pass it as a string or number.", param="properties")
    return str(raw)[:255]


@dataclass(slots=True)
class EventBatch:
    """Validated events, one list per field (index ``i`` across the lists is event ``i``). Keys are
    unique within the batch; ``dropped`` counts the repeats that were left out. Filled once, by ``add``."""

    owners: list[str] = field(default_factory=list)
    meters: list[MeterDef] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    stamps: list[datetime] = field(default_factory=list)
    props: list[dict[str, Any] | None] = field(default_factory=list)
    uniques: list[str | None] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)      # each event's index in the caller's input
    pairs: set[tuple[str, str]] = field(default_factory=set)  # the (owner_id, meter) pairs present
    oldest: datetime | None = None
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.keys)

    def event(self, i: int) -> UsageEvent:
        return UsageEvent(self.owners[i], self.meters[i].event_name, self.values[i], self.keys[i], self.stamps[i],
                          self.props[i], self.uniques[i])

    def without(self, keys: set[str]) -> EventBatch:
        """The events whose keys are not in ``keys``; the others count as dropped."""
        keep = [i for i, k in enumerate(self.keys) if k not in keys]
        out = EventBatch(owners=[self.owners[i] for i in keep], meters=[self.meters[i] for i in keep],
                         values=[self.values[i] for i in keep], keys=[self.keys[i] for i in keep],
                         stamps=[self.stamps[i] for i in keep], props=[self.props[i] for i in keep],
                         uniques=[self.uniques[i] for i in keep], positions=[self.positions[i] for i in keep])
        out.pairs = {(o, m.event_name) for o, m in zip(out.owners, out.meters, strict=True)}
        out.oldest = min(out.stamps, default=None)
        out.dropped = self.dropped + len(self) - len(keep)
        return out

    def add(self, events: Iterable[Mapping[str, Any] | UsageEvent], meter_of: Callable[[Any], MeterDef],
            now: datetime) -> Iterator[int]:
        """Validate ``events`` (mappings of ``track`` arguments, or UsageEvents) into the batch, yielding
        each new event's index as it is added, so a caller can stream the batch while it fills. The common
        case is checked inline; anything unusual goes through the validators above for their exact
        messages. A bad event raises InvalidInputError naming its index (``events[i]``)."""
        owners, meters, values, keys, stamps = self.owners, self.meters, self.values, self.keys, self.stamps
        props_col, uniques, positions, pairs = self.props, self.uniques, self.positions, self.pairs
        oldest = self.oldest
        seen: set[str] = set()
        by_name: dict[Any, MeterDef] = {}
        latest = now + FUTURE_SKEW
        key_ok = _KEY.fullmatch
        owners_ok: set[str] = set()
        for i, raw in enumerate(events):
            try:
                if type(raw) is not dict:
                    if isinstance(raw, UsageEvent):
                        raw = raw._asdict()
                        del raw["unique_key"]      # recomputed from properties below
                    elif not isinstance(raw, Mapping):
                        raise InvalidInputError("each event must be a mapping of track() arguments.")
                if not raw.keys() <= _FIELDS:
                    raise InvalidInputError(f"unknown fields {sorted(set(raw) - _FIELDS)}.")
                name = raw.get("meter")
                m = by_name.get(name)
                if m is None:
                    m = by_name[name] = meter_of(name)
                owner = raw.get("owner_id")
                if type(owner) is not str or owner not in owners_ok:   # few owners per batch: each checked once
                    owner = validation.owner_id(owner)
                    owners_ok.add(owner)
                v = raw.get("value")
                if not (type(v) is int and 0 <= v <= MAX_VALUE):
                    v = value(v)
                key = raw.get("idempotency_key")
                if not (type(key) is str and key_ok(key)):
                    key = idempotency_key(key)
                ts = raw.get("timestamp")
                if ts is None:
                    ts = now
                elif not (type(ts) is datetime and ts.tzinfo is UTC and _EPOCH <= ts <= latest):
                    ts = timestamp(ts, now)
                p = raw.get("properties")
                if p is not None:
                    p = properties(p)
                unique = unique_value(m, p) if m.aggregation == "unique_count" else None
            except InvalidInputError as e:
                raise InvalidInputError(f"events[{i}]: {e.message}", param=f"events[{i}]") from None
            if key in seen:
                self.dropped += 1
                continue
            seen.add(key)
            owners.append(owner)
            meters.append(m)
            values.append(v)
            keys.append(key)
            stamps.append(ts)
            props_col.append(p)
            uniques.append(unique)
            positions.append(i)
            pairs.add((owner, m.event_name))
            if oldest is None or ts < oldest:
                oldest = self.oldest = ts
            yield len(keys) - 1


def collect(events: Iterable[Mapping[str, Any] | UsageEvent], meter_of: Callable[[Any], MeterDef],
            now: datetime) -> EventBatch:
    """``events`` validated into a new batch (see ``EventBatch.add``)."""
    batch = EventBatch()
    for _ in batch.add(events, meter_of, now):
        pass
    return batch
