"""The Events API: list and retrieve. Events are kept 30 days, as Stripe keeps them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StripeError, invalid
from ..routing import Request
from ..store import matches_range

if TYPE_CHECKING:
    from ..app import Emulator

RETENTION_SECONDS = 30 * 24 * 3600


def register(em: Emulator) -> None:
    em.router.add("GET", "/v1/events", list_events)
    em.router.add("GET", "/v1/events/{id}", retrieve_event)


def _live(em: Emulator) -> list[dict[str, Any]]:
    cutoff = em.now() - RETENTION_SECONDS
    return [e for e in em.store.all("event") if e["created"] >= cutoff]


def retrieve_event(em: Emulator, req: Request) -> dict[str, Any]:
    event = em.store.get("event", req.args["id"])
    if event["created"] < em.now() - RETENTION_SECONDS:
        raise StripeError(f"No such event: '{event['id']}' (events are kept for 30 days)", status=404, param="id",
                          code="resource_missing")
    return event


def list_events(em: Emulator, req: Request) -> dict[str, Any]:
    p = req.params
    one = p.str("type")
    many = p.list("types")
    if one and many:
        raise invalid("You may only specify one of these parameters: type, types.", "types")
    created = p.get("created")
    delivery_success = p.bool("delivery_success")
    items = _live(em)
    if one:
        items = [e for e in items if _type_matches(e["type"], one)]
    if many:
        items = [e for e in items if any(_type_matches(e["type"], t) for t in many)]
    if created is not None:
        items = [e for e in items if matches_range(e["created"], created, "created")]
    if delivery_success is not None:
        failed = set(em.state.undelivered_events)
        items = [e for e in items if (e["id"] not in failed) == delivery_success]
    return em.store.page(p, items, "/v1/events")


def _type_matches(event_type: str, pattern: str) -> bool:
    """Stripe allows a trailing wildcard, e.g. ``customer.*``."""
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern
