"""``billing.analytics.backfill``: the ledger for history that predates it, from Stripe.

Two sources, posted through the same idempotent writer as every sync (so running it twice, or on a
ledger that syncs already fed, changes nothing that is already right):

- the Events API (Stripe keeps 30 days): every ``customer.subscription.*`` event's object at its time;
- every subscription (``status=all``): the states its own timestamps prove, for the time before the
  events: its first state at ``start_date`` (the earliest event's ``previous_attributes`` applied when
  there is one, else the object as it is now), the end of its trial at ``trial_end``, its end at
  ``ended_at``. Changes older than 30 days that left no timestamp (an upgrade two months ago) cannot
  be recovered from Stripe; the figures then treat the earliest known items as the original ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from ..clock import utc
from ..customers.models import BillingCustomer
from ..stripe_api import call_stripe, plain, ref_id
from .ledger import Evidence
from .models import BillingLedgerCheckpoint, BillingLedgerEntry

if TYPE_CHECKING:
    from ..context import Context
    from .service import AnalyticsService

__all__ = ["BackfillReport", "run_backfill"]


@dataclass(frozen=True)
class BackfillReport:
    subscriptions: int
    events: int
    rows_written: int


def run_backfill(ctx: Context, svc: AnalyticsService, *, days: float, rebuild: bool,
                 progress: Callable[[str, int], Any] | None) -> BackfillReport:
    tick = progress or (lambda stage, done: None)
    since = int((ctx.now() - timedelta(days=days)).timestamp())
    events: dict[str, list[dict[str, Any]]] = {}
    n_events = 0
    page = call_stripe(ctx.stripe.v1.events.list, params={"limit": 100, "created": {"gte": since},
                                                         "types": [f"customer.subscription.{t}" for t in
                                                                   ("created", "updated", "deleted", "paused",
                                                                    "resumed", "trial_will_end")]})
    for found in page.auto_paging_iter():
        event = plain(found)
        obj = (event.get("data") or {}).get("object") or {}
        if obj.get("object") == "subscription":
            events.setdefault(obj["id"], []).append(event)
            n_events += 1
            tick("events", n_events)
    subs = [plain(s) for s in call_stripe(ctx.stripe.v1.subscriptions.list,
                                          params={"limit": 100, "status": "all",
                                                  "expand": ["data.discounts.source.coupon"]}).auto_paging_iter()]
    written = 0
    if rebuild:
        with ctx.transaction() as s:
            s.execute(delete(BillingLedgerEntry))
            s.execute(delete(BillingLedgerCheckpoint))
    for done, sub in enumerate(subs, 1):
        mine = events.get(sub["id"], [])[::-1]       # the Events API lists newest first; a stable sort keeps
        evidence = _history(sub, sorted(mine, key=lambda e: e["created"]), ctx.now())   # one second's order
        with ctx.transaction() as s:
            owner = s.scalar(select(BillingCustomer.owner_id).where(
                BillingCustomer.stripe_id == ref_id(sub.get("customer"))))
            for item in evidence:
                written += svc.writer.post(s, item, owner_id=owner, now=ctx.now()) is not None
        tick("subscriptions", done)
    return BackfillReport(len(subs), n_events, written)



def _history(sub: dict[str, Any], events: list[dict[str, Any]], now: datetime) -> list[Evidence]:
    first = copy.deepcopy(sub)
    if events:
        earliest = events[0]
        first = copy.deepcopy(earliest["data"]["object"])
        for key, old in (earliest["data"].get("previous_attributes") or {}).items():
            first[key] = old
    first["discounts"] = sub.get("discounts") or first.get("discounts")   # expanded details
    out = []
    start = utc(sub.get("start_date") or sub.get("created"))
    trial_end = utc(sub.get("trial_end"))
    if start is not None and not (events and events[0]["type"] == "customer.subscription.created"):
        trialing = trial_end is not None and trial_end > start
        out.append(Evidence({**first, "status": "trialing" if trialing else "active", "cancel_at_period_end": False,
                             "cancel_at": None}, start, source="backfill"))
        if trialing and trial_end is not None and trial_end <= now and (
                not events or utc(events[0]["created"]) is None or trial_end < utc(events[0]["created"])):  # type: ignore[operator]
            out.append(Evidence({**first, "status": "active", "cancel_at_period_end": False, "cancel_at": None},
                                trial_end, source="backfill"))
    out.extend(Evidence({**e["data"]["object"], "discounts": sub.get("discounts") or []}, utc(e["created"]) or now,
                        event=e, source="backfill") for e in events)
    ended = utc(sub.get("ended_at"))
    if sub.get("status") in ("canceled", "incomplete_expired") and ended is not None:
        out.append(Evidence(sub, ended, source="backfill"))
    elif not events:
        out.append(Evidence(sub, now, source="backfill"))
    return out
