"""Mirrors: how billingos keeps one kind of Stripe object in sync from its webhook events.

Each domain declares its mirrors (customers, subscriptions, invoices, the catalog, entitlements) and the
facade registers them with ``billing.webhooks.mirror()``, the same public call a host can use for a kind
billingos does not mirror. The webhook task applies the pending events about one object together:

1. ``fetch`` the object as Stripe has it now (outside any transaction), once for all of them; a 404 means
   the object is gone, and ``apply`` gets ``None`` for every kind alike. Events whose payload is
   ``final`` (a state Stripe never leaves, such as a deleted object) need no fetch: see ``payload_is_current``.
2. ``prepare`` whatever the apply needs that may call Stripe (a customer not yet local, product features).
3. In one transaction: the freshness claim (``freshness.claim_fresh``), ``apply``, the subscribers of
   each event, and the jobs marked done. A state fetched before another worker applied a newer one is
   thrown away and fetched again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

__all__ = ["Mirror", "Sync", "event_object_id", "payload_is_current"]


@dataclass(frozen=True)
class Sync:
    """What ``Mirror.apply`` gets: the object id, its current state (None: gone in Stripe), and the
    events behind this sync, oldest first."""

    object_id: str
    current: dict[str, Any] | None
    events: tuple[Mapping[str, Any], ...]


def event_object_id(event: Mapping[str, Any]) -> str | None:
    obj = event["data"]["object"]
    oid = obj.get("id")
    return oid if isinstance(oid, str) else None


def _never(_: Mapping[str, Any]) -> bool:
    return False


def _nothing(_: dict[str, Any] | None) -> None:
    return None


@dataclass(frozen=True)
class Mirror:
    """``events``: the event types it handles (exact, ``"invoice.*"`` or ``"*"``).
    ``fetch(id)``: the object now, or None when Stripe answers 404.
    ``apply(session, sync)``: write it (or, when ``sync.current`` is None, its absence) and publish domain
    events; inside the processing transaction, with no Stripe call.
    ``target(event)``: which object an event is about (default ``data.object.id``; None: nothing to sync).
    ``final(payload)``: the payload shows a state the object never leaves, so it is current without a fetch.
    ``prepare(current)``: Stripe calls the apply needs, made before the transaction.
    ``lock(id)``: the name of the freshness row (``freshness.py``); the object id itself by default, which
    the write path of the object's service shares."""

    name: str
    events: tuple[str, ...]
    fetch: Callable[[str], dict[str, Any] | None]
    apply: Callable[[Session, Sync], Any]
    target: Callable[[Mapping[str, Any]], str | None] = event_object_id
    final: Callable[[Mapping[str, Any]], bool] = _never
    prepare: Callable[[dict[str, Any] | None], Any] = _nothing
    lock: Callable[[str], str] = str

    def handles(self, event_type: str) -> bool:
        return any(matches(p, event_type) for p in self.events)


def matches(pattern: str, event_type: str) -> bool:
    return pattern == event_type or pattern == "*" or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))


def payload_is_current(mirror: Mirror, events: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The payload to apply without a fetch, when the newest event shows a final state; else None.

    The rule: a payload is provably current only when its object is in a state Stripe never leaves
    (deleted; a subscription canceled or incomplete_expired; an invoice void). Anything later about that
    object could only repeat it. Every other payload may be stale or out of order, so it is fetched."""
    for event in reversed(events):
        obj = event["data"]["object"]
        if mirror.target(event) == obj.get("id") and mirror.final(obj):
            return dict(obj)
    return None
