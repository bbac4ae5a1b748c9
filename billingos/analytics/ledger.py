"""Writing the subscription ledger: evidence of a subscription's state at a Stripe time becomes rows.

Evidence is a Stripe subscription object and the Stripe time it was true at: each event's
``data.object`` at the event's ``created`` (webhooks, backfill), or the object a sync applied without
events (the write path, reconcile) at the change's own timestamp (``ended_at`` for an ending,
``trial_end`` for a conversion, ``start_date`` for a start), else the moment Stripe answered.

Posting is idempotent and order-free: evidence equal to the ledger's state at its time writes no row (a
duplicate, or the webhook for a change the write path already posted), only a checkpoint saying the state
was vouched for then; evidence that differs writes one row from that state to it; and when later rows or
checkpoints exist, a ``correction`` row just before the first of them reverses it, so the MRR summed up to
any instant is what Stripe's state was then, whatever the arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, or_, select
from sqlalchemy.orm import Session

from ..catalog.models import BillingPrice
from ..clock import utc
from ..db import insert_ignore
from .models import BillingLedgerCheckpoint as C
from .models import BillingLedgerEntry as L
from .mrr_rules import SubState, discount_detail, state_of
from .settings import AnalyticsSettings

__all__ = ["ORDER", "Evidence", "LedgerWriter"]

_TYPE_RANK = {"customer.subscription.created": 1, "customer.subscription.deleted": 3}

#: The ledger's order: by Stripe time, rank inside a second; corrections just before the row they precede.
ORDER = (L.effective_at, L.rank, case((L.source == "correction", 0), else_=1),
         case((L.source == "correction", -L.id), else_=L.id))


class Evidence:
    """A subscription object and when it was true (``at``); ``event`` the Stripe event that carried it."""

    def __init__(self, obj: Mapping[str, Any], at: datetime, *, event: Mapping[str, Any] | None = None,
                 source: str = "sync") -> None:
        self.obj, self.at, self.event, self.source = obj, at, event, source
        self.type_rank = _TYPE_RANK.get(str(event.get("type")), 2) if event is not None else 2


class LedgerWriter:
    def __init__(self, settings: AnalyticsSettings) -> None:
        self.settings = settings

    def post(self, session: Session, ev: Evidence, *, owner_id: str | None, now: datetime) -> L | None:
        """Post one piece of evidence; the row written (None: it changed nothing)."""
        sub_id = str(ev.obj["id"])
        history = self._history(session, sub_id)
        prev = history[-1] if history else None
        known = {d["id"]: d for d in (prev.detail.get("discounts", []) if prev is not None else [])
                 if d.get("forever") is not None}
        state = state_of(ev.obj, self.settings, known, _tiers_of(session, ev.obj))
        rank = ev.type_rank * 10      # inside one second: created, then updates in arrival order, then deleted
        at = ev.at
        # ORDER starts with (effective_at, rank): the rows up to (at, rank) are a prefix of the history
        cut = next((n for n, r in enumerate(history) if (r.effective_at, r.rank) > (at, rank)), len(history))
        before = history[cut - 1] if cut else None
        level = sum(r.mrr_after - r.mrr_before for r in history[:cut])
        before_state = _as_state(before, level)
        if before_state is not None and before_state.key == state.key:
            insert_ignore(session, C, {"subscription_stripe_id": sub_id, "effective_at": at, "rank": rank},
                          key=["subscription_stripe_id", "effective_at", "rank"])
            return None
        following = history[cut] if cut < len(history) else None
        reached = _as_state(following, following.mrr_after) if following is not None else None
        if following is not None and following.effective_at == at and reached is not None and reached.key == state.key:
            return None         # the same second already reaches this state (a write path's row, then its event)
        row = self._add(session, ev, sub_id, owner_id, at, rank, before_state, state, now)
        # the state before this evidence held again from the next moment anything vouched for it: a later row,
        # or a checkpoint (later evidence that had found that state and so wrote nothing)
        nexts = [(following.effective_at, following.rank)] if following is not None else []
        nexts += session.execute(_checkpoint_read(), {"subscription_id": sub_id, "at": at, "rank": rank}).all()
        if nexts:
            until = min((t, r) for t, r in nexts)
            undo = before_state if before_state is not None else SubState(0, state.currency, "none", {})
            self._add(session, ev, sub_id, owner_id, until[0], until[1], state, undo, now, cause="correction")
        return row

    def _add(self, session: Session, ev: Evidence, sub_id: str, owner_id: str | None, at: datetime, rank: int,
             before: SubState | None, after: SubState, now: datetime, *, cause: str | None = None) -> L:
        customer = ev.obj.get("customer")
        row = L(subscription_stripe_id=sub_id,
                customer_stripe_id=str(customer.get("id") if isinstance(customer, Mapping) else customer),
                owner_id=owner_id, effective_at=at, rank=rank, mrr_before=before.mrr if before else 0,
                mrr_after=after.mrr, currency=after.currency,
                status_before=before.status if before else None, status_after=after.status,
                cause=cause or _cause(before, after), source="correction" if cause else ev.source,
                stripe_event_id=str(ev.event["id"]) if ev.event is not None else None,
                detail=dict(after.detail), recorded_at=now)
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def _history(session: Session, sub_id: str) -> list[L]:
        """The subscription's ledger rows in ORDER: one read answers the state before a point, the MRR
        level there and the row after it (a subscription has a few dozen rows at most)."""
        return list(session.scalars(_history_read(), {"subscription_id": sub_id}))


@lru_cache(maxsize=1)
def _history_read() -> Any:
    """Built once (every subscription sync posts); the subscription id is bound per call."""
    return select(L).where(L.subscription_stripe_id == bindparam("subscription_id")).order_by(*ORDER)


@lru_cache(maxsize=1)
def _checkpoint_read() -> Any:
    """The subscription's first checkpoint after (at, rank)."""
    at, rank = bindparam("at", type_=C.effective_at.type), bindparam("rank", type_=Integer)
    return (select(C.effective_at, C.rank)
            .where(C.subscription_stripe_id == bindparam("subscription_id"),
                   or_(C.effective_at > at, and_(C.effective_at == at, C.rank > rank)))
            .order_by(C.effective_at, C.rank).limit(1))


def _tiers_of(session: Session, obj: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Tiers of the object's tiered prices that Stripe did not expand, from the local catalog mirror."""
    wanted = {str(p["id"]) for i in (obj.get("items") or {}).get("data") or []
              if isinstance(p := i.get("price"), Mapping) and p.get("billing_scheme") == "tiered"
              and not p.get("tiers") and p.get("id")}
    if not wanted:
        return {}
    rows = session.execute(select(BillingPrice.stripe_id, BillingPrice.tiers, BillingPrice.tiers_mode)
                           .where(BillingPrice.stripe_id.in_(wanted)))
    return {pid: {"tiers": tiers, "tiers_mode": mode} for pid, tiers, mode in rows if tiers}


def _as_state(row: L | None, level: int) -> SubState | None:
    """The ledger's state at a point: the last row's status and facts, and the summed MRR there."""
    if row is None or row.status_after == "none":
        return None if row is None or level == 0 else SubState(level, row.currency, "none", {})
    return SubState(level, row.currency, row.status_after, dict(row.detail))


def _cause(before: SubState | None, after: SubState) -> str:
    """Why the state changed, as a founder would name it."""
    if before is None or before.status == "none":
        if after.status in ("canceled", "incomplete_expired"):
            return "canceled"
        return "new" if after.mrr > 0 else ("trial_started" if after.status == "trialing" else "created")
    b, a = before.status, after.status
    if b != a:
        named = {("trialing", "active"): "trial_converted", ("past_due", "active"): "past_due_left",
                 ("paused", "active"): "resumed", ("active", "paused"): "paused",
                 ("active", "past_due"): "past_due_entered", ("trialing", "past_due"): "past_due_entered"}
        if (b, a) in named:
            return named[(b, a)]
        if a in ("canceled", "incomplete_expired"):
            return "canceled"
        if a == "unpaid":
            return "unpaid"
        if a == "paused":
            return "paused"
        if b == "incomplete" and a == "active":
            return "new"
        return "status_changed"
    bd, ad = before.detail, after.detail
    if bd.get("cancel_scheduled") != ad.get("cancel_scheduled"):
        return "cancel_scheduled" if ad.get("cancel_scheduled") else "reactivated"
    if bd.get("prices") != ad.get("prices"):
        return "upgrade" if after.mrr >= before.mrr else "downgrade"
    if bd.get("quantity") != ad.get("quantity"):
        return "quantity"
    if [d.get("id") for d in bd.get("discounts", [])] != [d.get("id") for d in ad.get("discounts", [])]:
        return "discount"
    return "upgrade" if after.mrr > before.mrr else ("downgrade" if after.mrr < before.mrr else "updated")


def evidence_of(obj: Mapping[str, Any], events: tuple[Mapping[str, Any], ...], *, now: datetime,
                previous: Mapping[str, Any] | None) -> list[Evidence]:
    """The evidence a sync carries: its events' objects at their times, or the applied object at the
    change's own Stripe timestamp (``now``, the moment Stripe answered, when the change has none)."""
    found = [Evidence(e["data"]["object"], utc(e["created"]) or now, event=e, source="event") for e in events
             if isinstance(e.get("data"), Mapping) and isinstance(e["data"].get("object"), Mapping)
             and e["data"]["object"].get("object") == "subscription" and e["data"]["object"].get("id") == obj["id"]]
    if found:
        return _with_discounts(found, obj)
    return [Evidence(obj, _own_time(obj, previous, now))]


def _own_time(obj: Mapping[str, Any], previous: Mapping[str, Any] | None, now: datetime) -> datetime:
    status, before = obj.get("status"), (previous or {}).get("status")
    stamp = None
    if status in ("canceled", "incomplete_expired"):
        stamp = obj.get("ended_at") or obj.get("canceled_at")
    elif previous is None:
        stamp = obj.get("start_date") or obj.get("created")
    elif before == "trialing" and status != "trialing":
        stamp = obj.get("trial_end")
    at = utc(stamp) if stamp else None
    return at if at is not None and at <= now else now


def _with_discounts(found: list[Evidence], current: Mapping[str, Any]) -> list[Evidence]:
    """Events name discounts by id; the applied object (fetched with them expanded) has their details."""
    details = {d["id"]: d for d in (discount_detail(x) for x in current.get("discounts") or []) if d}
    if not details:
        return found
    out = []
    for ev in found:
        discounts = [details.get(x, x) if isinstance(x, str) else x for x in ev.obj.get("discounts") or []]
        out.append(Evidence({**ev.obj, "discounts": discounts}, ev.at, event=ev.event, source=ev.source))
    return out
