from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from ..billing import Billing


class Receipt(BaseModel):
    """What ``receive()`` did: ``accepted`` once stored; ``duplicate`` when the id was seen before."""

    model_config = ConfigDict(frozen=True)

    accepted: bool
    event_id: str
    duplicate: bool


@dataclass
class WebhookContext:
    """Handed to every subscriber, inside the processing transaction (row locks held).

    Write through ``session``; anything that must wait for the commit goes through ``on_commit``."""

    billing: Billing
    event: dict[str, Any]
    session: Session
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
