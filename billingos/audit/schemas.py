from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

#: The columns of ``audit.export_csv``, in order.
CSV_COLUMNS = ("id", "occurred_at", "actor_kind", "actor_id", "action", "target_type", "target_id", "owner_id",
               "before", "after", "request_id", "client_address")


class AuditEvent(BaseModel):
    """One entry of the audit log: who (``actor_kind``/``actor_id``) did what (``action``) to which
    ``target``, with the state ``before`` and ``after``, when, and from which request."""

    model_config = ConfigDict(frozen=True)

    id: int
    occurred_at: datetime
    actor_kind: str
    actor_id: str | None
    action: str
    target_type: str
    target_id: str
    owner_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_address: str | None

    @classmethod
    def from_row(cls, row: Any) -> AuditEvent:
        return cls(id=row.id, occurred_at=row.occurred_at, actor_kind=row.actor_kind, actor_id=row.actor_id,
                   action=row.action, target_type=row.target_type, target_id=row.target_id, owner_id=row.owner_id,
                   before=row.before, after=row.after, request_id=row.request_id, client_address=row.client_address)
