"""An owner's grant rows folded into the cache's ``Features`` (one ``FeatureState`` per feature key)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..clock import utc
from .cache import Features, FeatureState
from .models import BillingEntitlement
from .quota import Spec, spec_for

__all__ = ["features_of", "spec_of"]


def features_of(rows: Iterable[BillingEntitlement], now: datetime) -> Features:
    """The live grants among ``rows``, per feature: several grants of one key fold into one state."""
    by_key: dict[str, list[BillingEntitlement]] = {}
    for r in rows:
        if (r.expires_at is None or r.expires_at > now) and (r.grace_until is None or r.grace_until > now):
            by_key.setdefault(r.feature_key, []).append(r)
    out: Features = {}
    for key, grants in by_key.items():
        ends = [_end(r) for r in grants]
        until = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
        spec = spec_for(grants)
        metered = any(r.feature_type == "metered" for r in grants)
        out[key] = FeatureState(until, "metered" if metered else "boolean", spec.limit, spec.reset, spec.rollover,
                                _ts(spec.period_start), _ts(spec.period_end), spec.grace)
    return out


def spec_of(info: FeatureState) -> Spec:
    return Spec(limit=info.limit, reset=info.reset or "billing_period", rollover=bool(info.rollover),
                period_start=utc(info.period_start), period_end=utc(info.period_end), grace=bool(info.grace))


def _end(row: BillingEntitlement) -> float | None:
    ends = [d for d in (row.expires_at, row.grace_until) if d is not None]
    return min(ends).timestamp() if ends else None


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
