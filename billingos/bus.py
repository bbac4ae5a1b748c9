"""Domain events: the one way a billingos domain reacts to another.

A service publishes a fact (``SubscriptionSynced``, ``CatalogSynced``…, see ``domain_events.py``) from
inside the transaction that made it true. Subscribers run at one of two moments:

- ``subscribe(Event, fn)``: ``fn(event)`` after that transaction commits, never if it rolls back.
  Caches, jobs and the public blinker signals (``announce.py``) react here.
- ``subscribe_in_transaction(Event, fn)``: ``fn(session, event)`` at once, inside the same transaction,
  for state that must commit together with the fact or not at all (the entitlement grants of a
  subscription, the revenue ledger). An exception rolls the whole transaction back.

The bus belongs to one ``Billing``: nothing is registered on a module global, so a closed ``Billing``
leaves nothing connected and is garbage once the host drops it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from .db import on_commit

__all__ = ["EventBus"]

E = TypeVar("E")


class EventBus:
    def __init__(self) -> None:
        self._after_commit: dict[type, list[Callable[[Any], Any]]] = {}
        self._in_transaction: dict[type, list[Callable[[Session, Any], Any]]] = {}

    def subscribe(self, event_type: type[E], fn: Callable[[E], Any]) -> None:
        """Call ``fn(event)`` after the publishing transaction commits."""
        self._after_commit.setdefault(event_type, []).append(fn)

    def subscribe_in_transaction(self, event_type: type[E], fn: Callable[[Session, E], Any]) -> None:
        """Call ``fn(session, event)`` inside the publishing transaction."""
        self._in_transaction.setdefault(event_type, []).append(fn)

    def publish(self, session: Session | None, event: object) -> None:
        """Deliver ``event``. Without a session (nothing to commit) after-commit subscribers run now."""
        kind = type(event)
        for tx_fn in self._in_transaction.get(kind, ()):
            if session is None:
                raise RuntimeError(f"{kind.__name__} has in-transaction subscribers: publish it with a session.")
            tx_fn(session, event)
        for fn in self._after_commit.get(kind, ()):
            if session is None:
                fn(event)
            else:
                on_commit(session, _bind(fn, event))

    def clear(self) -> None:
        self._after_commit.clear()
        self._in_transaction.clear()


def _bind(fn: Callable[[Any], Any], event: object) -> Callable[[], Any]:
    return lambda: fn(event)
