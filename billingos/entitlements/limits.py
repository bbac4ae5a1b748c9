"""``limits_for`` in bulk: the effective limits of many owners' metered features from one grants read and one
counters read, instead of one cache load and one usage read per (owner, feature) through ``check``.

A feature's limit as ``check(owner, key, 0)`` reports it is the live grant's limit plus what the current
window carried in; whether the feature is over its limit does not change it. So the bulk path reads the
counters' ``carried`` only, never usage. Whenever a backend fails (or anything unexpected happens), the
owner's keys go through ``check`` one by one, so every failure is answered exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import in_many
from .cache import EntitlementCache, Entry, Features
from .inputs import KEY_PATTERN
from .models import BillingEntitlement, BillingEntitlementCounter
from .quota import Spec, window
from .schemas import Check
from .snapshot import features_of, spec_of

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["COUNTED", "Limits", "largest", "limit_of_check"]

#: ``check`` reasons that report the feature's limit (``limit_reached`` too: the limit is what it is).
COUNTED = ("granted", "grace_period", "limit_reached")

#: key -> its limit (None: no cap); keys without a usable grant are absent.
Found = dict[str, int | None]


def limit_of_check(answer: Check) -> tuple[bool, int | None]:
    """(counts, limit) of one ``check`` answer."""
    return answer.reason in COUNTED, answer.limit


def largest(found: Found, keys: list[str]) -> int | None:
    """The largest limit over ``keys``; None when any is uncapped or none is granted."""
    limits = []
    for key in keys:
        if key in found:
            limit = found[key]
            if limit is None:
                return None          # an unlimited grant: no threshold applies
            limits.append(limit)
    return max(limits) if limits else None


def features_many(session: Session, owners: list[str], now: datetime) -> dict[str, Features]:
    """Each owner's features (``features_of``) from one read of their grant rows."""
    by_owner: dict[str, list[BillingEntitlement]] = {o: [] for o in owners}
    e = BillingEntitlement
    for clause in in_many(session, e.owner_id, owners):
        for row in session.scalars(select(e).where(clause).order_by(e.source)):
            by_owner[row.owner_id].append(row)
    for rows in by_owner.values():        # the order of the per-owner read: by source, then as stored
        rows.sort(key=lambda r: r.source)
    return {o: features_of(rows, now) for o, rows in by_owner.items()}


class Limits:
    """The bulk reads behind ``EntitlementService.limits_for``."""

    def __init__(self, ctx: Context, cache: EntitlementCache, *,
                 entry: Callable[[str], tuple[Entry | None, str | None]],
                 check: Callable[[str, str, int], Check]) -> None:
        self._ctx = ctx
        self._cache = cache
        self._entry = entry          # the owner's cache entry, or the backend that is down
        self._check = check

    def largest(self, held: dict[tuple[str, str], list[str]]) -> dict[tuple[str, str], int | None]:
        """(owner, meter) -> the largest limit over the granted feature keys that count the meter."""
        keys_of: dict[str, set[str]] = {}
        for (owner, _), keys in held.items():
            if keys:
                keys_of.setdefault(owner, set()).update(keys)
        found = self.found({owner: sorted(keys) for owner, keys in keys_of.items()})
        return {pair: largest(found.get(pair[0], {}), keys) for pair, keys in held.items()}

    def found(self, keys_of: dict[str, list[str]]) -> dict[str, Found]:
        """owner -> key -> limit, for the given keys of each owner."""
        self._cache.load_many(sorted(keys_of), self._features_many)
        now = self._ctx.clock.now()
        out: dict[str, Found] = {}
        specs: dict[tuple[str, str], Spec] = {}
        for owner, keys in keys_of.items():
            try:
                entry, down = self._entry(owner)
            except Exception:
                entry, down = None, "internal"
            if down is not None or entry is None:
                out[owner] = self._one_by_one(owner, keys)
                continue
            found: Found = {}
            for key in keys:
                info = entry.features.get(key)
                if not KEY_PATTERN.fullmatch(key) or info is None or \
                        (info.until is not None and info.until <= now.timestamp()):
                    continue
                if info.type != "metered":
                    found[key] = None
                else:
                    specs[(owner, key)] = spec_of(info)
            out[owner] = found
        try:
            carried = self._carried(specs, now)
        except Exception:      # the database failed: the metered owners' keys answer through check()
            for owner in {o for o, _ in specs}:
                out[owner] = self._one_by_one(owner, keys_of[owner])
            return out
        for (owner, key), spec in specs.items():
            out[owner][key] = None if spec.limit is None else spec.limit + carried[(owner, key)]
        return out

    def _features_many(self, owners: list[str]) -> dict[str, Features]:
        with self._ctx.session_factory() as session:
            return features_many(session, owners, self._ctx.clock.now())

    def _one_by_one(self, owner: str, keys: list[str]) -> Found:
        found: Found = {}
        for key in keys:
            counts, limit = limit_of_check(self._check(owner, key, 0))
            if counts:
                found[key] = limit
        return found

    def _carried(self, specs: dict[tuple[str, str], Spec], now: datetime) -> dict[tuple[str, str], int]:
        """What each feature's current window carried in (``QuotaOps.usage``'s second half): the counter's
        ``carried``, or, before the window's first use, the rollover it would carry."""
        if not specs:
            return {}
        starts = {pair: window(spec, now)[0] for pair, spec in specs.items()}
        c = BillingEntitlementCounter
        current: dict[tuple[str, str, datetime], int] = {}
        # the window that ended at a start -> (its start, carried, used); the earliest such window if several
        # (the order carried_for's unordered read meets them in, along the (owner, key, start) index)
        before: dict[tuple[str, str, datetime], tuple[datetime, int, int]] = {}
        edges = set(starts.values())
        with self._ctx.session_factory() as session:
            for clause in in_many(session, c.owner_id, {o for o, _ in specs}):
                rows = session.execute(select(c.owner_id, c.feature_key, c.window_start, c.window_end, c.carried,
                                              c.used).where(clause, c.feature_key.in_({k for _, k in specs}),
                                                            c.window_start.in_(edges) | c.window_end.in_(edges)))
                for owner, key, start, end, carried, used in rows:
                    current[(owner, key, start)] = carried
                    prev = before.get((owner, key, end)) if end is not None else None
                    if end is not None and (prev is None or start < prev[0]):
                        before[(owner, key, end)] = (start, carried, used)
        out = {}
        for (owner, key), spec in specs.items():
            start = starts[(owner, key)]
            if (owner, key, start) in current:
                out[(owner, key)] = current[(owner, key, start)]
            elif not spec.rollover or spec.limit is None or (owner, key, start) not in before:
                out[(owner, key)] = 0
            else:      # quota.carried_for: the unused allowance of the window just before, capped at one limit
                _, carried, used = before[(owner, key, start)]
                out[(owner, key)] = max(0, min(spec.limit, spec.limit + carried - used))
        return out
