"""Metered limits: reset windows, rollover, and atomic consumption and reservations.

Consumption takes the owner's counter row for the current window under a row lock (``SELECT .. FOR
UPDATE`` on PostgreSQL; SQLite has a single writer and the first statement of the transaction is a
write), then checks ``used + live reservations + amount <= limit + carried`` and records the ledger row
(unique per owner and idempotency key) and the new total in the same transaction. So two workers, in
threads or processes, can never overspend, and a retried call is never counted twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..db import insert_ignore
from .models import BillingEntitlement, BillingEntitlementCounter, BillingEntitlementUsage

__all__ = [
    "Spec",
    "add_used",
    "carried_for",
    "counter_for",
    "held",
    "live_grants",
    "peek_counter",
    "retrying",
    "spec_for",
    "window",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    """The effective metered terms of one feature for one owner, merged over its live grants."""

    limit: int | None            # None: no cap
    reset: str
    rollover: bool
    period_start: datetime | None
    period_end: datetime | None
    grace: bool                  # every live grant is a past_due grace grant


def live_grants(session: Session, owner_id: str, key: str, now: datetime) -> list[BillingEntitlement]:
    rows = session.scalars(select(BillingEntitlement).where(
        BillingEntitlement.owner_id == owner_id, BillingEntitlement.feature_key == key)
        .order_by(BillingEntitlement.source))
    return [r for r in rows if (r.expires_at is None or r.expires_at > now)
            and (r.grace_until is None or r.grace_until > now)]


def spec_for(rows: list[Any]) -> Spec:
    """Limits add up over grants (two subscriptions, or a plan plus a sales override); any grant without
    a cap makes the feature uncapped. The window comes from the first subscription grant."""
    limit: int | None = 0
    for r in rows:
        if r.limit_value is None:
            limit = None
            break
        limit += r.limit_value
    main = next((r for r in rows if r.source != "override"), rows[0])
    return Spec(limit=limit, reset=main.reset or "billing_period", rollover=any(r.rollover for r in rows),
                period_start=main.period_start, period_end=main.period_end,
                grace=all(r.grace_until is not None for r in rows))


def window(spec: Spec, now: datetime) -> tuple[datetime, datetime | None]:
    """[start, end) of the reset window that contains ``now`` (end None: never resets).

    ``billing_period`` follows the subscription's current period as last synced: if the renewal has not
    synced yet, usage keeps counting in the old window (never reset early); overrides without a
    subscription use calendar months."""
    reset = spec.reset
    if reset == "never":
        return EPOCH, None
    if reset == "billing_period":
        if spec.period_start is not None and spec.period_end is not None and spec.period_start <= now:
            return spec.period_start, spec.period_end
        reset = "month"
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if reset == "day":
        return day, day + timedelta(days=1)
    if reset == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if reset == "year":
        start = day.replace(month=1, day=1)
        return start, start.replace(year=start.year + 1)
    start = day.replace(day=1)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def counter_for(session: Session, owner_id: str, key: str, spec: Spec, now: datetime, *,
                lock: bool) -> BillingEntitlementCounter:
    """The counter of the current window, created on first use (with the rollover carried in).

    With ``lock`` the row is locked for the rest of the transaction."""
    start, end = window(spec, now)
    carried = carried_for(session, owner_id, key, spec, start)
    insert_ignore(session, BillingEntitlementCounter, {
        "owner_id": owner_id, "feature_key": key, "window_start": start, "window_end": end, "used": 0,
        "carried": carried}, key=["owner_id", "feature_key", "window_start"])
    stmt = select(BillingEntitlementCounter).where(
        BillingEntitlementCounter.owner_id == owner_id, BillingEntitlementCounter.feature_key == key,
        BillingEntitlementCounter.window_start == start).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one()


def carried_for(session: Session, owner_id: str, key: str, spec: Spec, start: datetime) -> int:
    """Rollover: the unused allowance of the window just before ``start``, capped at one window's limit."""
    if not spec.rollover or spec.limit is None:
        return 0
    prev = session.scalars(select(BillingEntitlementCounter).where(
        BillingEntitlementCounter.owner_id == owner_id, BillingEntitlementCounter.feature_key == key,
        BillingEntitlementCounter.window_end == start)).first()
    if prev is None:
        return 0
    return max(0, min(spec.limit, spec.limit + prev.carried - prev.used))


def peek_counter(session: Session, owner_id: str, key: str, spec: Spec,
                 now: datetime) -> BillingEntitlementCounter | None:
    start, _ = window(spec, now)
    return session.scalars(select(BillingEntitlementCounter).where(
        BillingEntitlementCounter.owner_id == owner_id, BillingEntitlementCounter.feature_key == key,
        BillingEntitlementCounter.window_start == start)).first()


def held(session: Session, counter_id: int, now: datetime) -> int:
    """Capacity held by live reservations on a counter (expired ones no longer count)."""
    return int(session.scalar(select(func.coalesce(func.sum(BillingEntitlementUsage.amount), 0)).where(
        BillingEntitlementUsage.counter_id == counter_id, BillingEntitlementUsage.status == "held",
        BillingEntitlementUsage.expires_at > now)) or 0)


def add_used(session: Session, counter_id: int, amount: int) -> None:
    session.execute(update(BillingEntitlementCounter).where(BillingEntitlementCounter.id == counter_id)
                    .values(used=BillingEntitlementCounter.used + amount)
                    .execution_options(synchronize_session=False))


def retrying(fn: Any, *, attempts: int = 30) -> Any:
    """Run a transaction, retrying when SQLite reports a busy database or PostgreSQL a deadlock or
    serialization failure (another writer won the race; the retry sees its result)."""
    for n in range(attempts):
        try:
            return fn()
        except OperationalError as e:
            text = str(e.orig if e.orig is not None else e).lower()
            transient = ("locked" in text or "busy" in text or "deadlock" in text
                         or "could not serialize" in text)
            if not transient or n == attempts - 1:
                raise
            time.sleep(min(0.005 * (2 ** n), 0.2))
    raise AssertionError("unreachable")  # pragma: no cover
