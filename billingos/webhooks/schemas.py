from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session


class Receipt(BaseModel):
    """What ``receive()`` did: ``accepted`` once stored; ``duplicate`` when the id was seen before."""

    model_config = ConfigDict(frozen=True)

    accepted: bool
    event_id: str
    duplicate: bool


@dataclass
class WebhookContext:
    """Handed to every subscriber, inside the processing transaction, after the event's object was synced.

    Write through ``session``; anything that must wait for the commit goes through ``on_commit``.
    ``current`` is the object as Stripe had it when it was synced (None: gone, or a type billingos does
    not mirror); ``object`` is the event's own, possibly older, snapshot."""

    event: dict[str, Any]
    session: Session
    current: dict[str, Any] | None = None
    after_commit: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def type(self) -> str:
        return str(self.event["type"])

    @property
    def object(self) -> dict[str, Any]:
        return dict(self.event["data"]["object"])

    @property
    def previous_attributes(self) -> dict[str, Any]:
        return dict(self.event["data"].get("previous_attributes") or {})

    def on_commit(self, fn: Callable[[], Any]) -> None:
        self.after_commit.append(fn)


class WebhookEventInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    status: str
    attempts: int
    last_error: str | None
    object_id: str | None
