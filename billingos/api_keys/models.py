from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID


class BillingApiKey(Base):
    """An API key: only the SHA-256 of its secret is stored; ``key_id`` is the public half of the key."""

    __tablename__ = "billing_api_keys"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(4))              # live | test: the prefix bos_live_ / bos_test_
    secret_hash: Mapped[str] = mapped_column(String(64))       # hex SHA-256 of the whole key
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    owner_id: Mapped[str | None] = mapped_column(String(255), index=True)   # None: every owner
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
