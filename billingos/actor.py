"""``Actor``: who asked for a sensitive operation, passed explicitly to the services that record it.

The audit log (``billingos/audit``) stores it with every entry: the kind of actor, its id, and the
request id and client address when the operation came through HTTP. No module global or context variable
carries it: a service that records an audit entry takes ``actor=`` and passes it on in its domain event.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from .errors import InvalidInputError

__all__ = ["SYSTEM", "Actor", "ActorKind", "parse_actor", "request_id_from"]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

ActorKind = Literal["admin", "owner", "api_key", "system"]


class Actor(BaseModel):
    """``Actor(kind="admin", id="alice@host")``; ``Actor.system()`` for jobs, the CLI and unattended runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActorKind
    id: str | None = None
    request_id: str | None = None
    client_address: str | None = None

    @field_validator("id", "request_id", "client_address")
    @classmethod
    def _short_text(cls, v: str | None) -> str | None:
        if v is not None and (not v or len(v) > 255 or not v.isprintable() or v != v.strip()):
            raise ValueError("must be a non-empty printable string of at most 255 characters")
        return v

    @classmethod
    def system(cls, id: str | None = None) -> Actor:
        return cls(kind="system", id=id)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else self.kind


SYSTEM = Actor(kind="system")


def parse_actor(actor: Any) -> Actor:
    """``actor`` as given, or the system when None; InvalidInputError for anything else."""
    if actor is None:
        return SYSTEM
    if not isinstance(actor, Actor):
        from . import validation
        raise InvalidInputError(f"actor must be a billingos.Actor (who did this), got {validation.echo(actor)}.",
                                param="actor")
    return actor


def request_id_from(given: str | None) -> str:
    """The request id an HTTP request names (its ``X-Request-ID`` header when well formed), else a new one."""
    return given if isinstance(given, str) and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
