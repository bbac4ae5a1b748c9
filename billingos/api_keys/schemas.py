from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Scope = Literal["entitlements:read", "usage:write", "billing:read"]
#: Every scope a key may hold: reading feature checks, writing usage, reading subscription/invoices/customer.
SCOPES: tuple[str, ...] = ("entitlements:read", "usage:write", "billing:read")


class ApiKey(BaseModel):
    """A stored API key, without its secret (which only ``CreatedApiKey.secret`` ever shows, once)."""

    model_config = ConfigDict(frozen=True)

    id: str                      # key_..., the public half; safe to log and show
    name: str
    mode: Literal["live", "test"]
    scopes: list[str]
    owner_id: str | None         # None: a server-to-server key acting for every owner
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: Any) -> ApiKey:
        return cls(id=row.key_id, name=row.name, mode=row.mode, scopes=list(row.scopes), owner_id=row.owner_id,
                   created_by=row.created_by, created_at=row.created_at, last_used_at=row.last_used_at,
                   revoked_at=row.revoked_at)


class CreatedApiKey(BaseModel):
    """What ``api_keys.create`` returns: the key and, this once, its full secret."""

    model_config = ConfigDict(frozen=True)

    key: ApiKey
    secret: str

    def __repr__(self) -> str:   # the secret never reaches a log through repr()
        return f"CreatedApiKey(key={self.key!r}, secret='{self.secret[:9]}…')"

    __str__ = __repr__
