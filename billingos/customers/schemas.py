from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Customer(BaseModel):
    """A read-only snapshot of a synced customer. ``id`` is the Stripe id."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    owner_id: str | None
    email: str | None
    name: str | None
    currency: str | None
    balance: int
    delinquent: bool
    default_payment_method: str | None
    metadata: dict[str, str]
    created: datetime | None
    deleted: bool

    @classmethod
    def from_row(cls, row: Any) -> Customer:
        return cls(id=row.stripe_id, owner_id=row.owner_id, email=row.email, name=row.name,
                   currency=row.currency, balance=row.balance, delinquent=row.delinquent,
                   default_payment_method=row.default_payment_method, metadata=dict(row.stripe_metadata or {}),
                   created=row.stripe_created, deleted=row.deleted_at is not None)


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list. Pass ``next_cursor`` as ``after`` for the next page."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


class LinkConflict(BaseModel):
    """One pair ``link_many`` did not link, and why (``reason``: the typed error's message)."""

    model_config = ConfigDict(frozen=True)

    owner_id: str
    stripe_customer_id: str
    reason: str


class LinkReport(BaseModel):
    """What ``customers.link_many()`` did (or, ``dry_run``, would do): Stripe customer ids by outcome."""

    model_config = ConfigDict(frozen=True)

    linked: list[str]
    already_linked: list[str]
    conflicts: list[LinkConflict]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.conflicts


class Erasure(BaseModel):
    """What ``customers.erase()`` did. ``already_erased``: an earlier call erased the customer (this one
    redacted whatever arrived since; no new audit entry or signal). ``rows``: rows rewritten, by table."""

    model_config = ConfigDict(frozen=True)

    owner_id: str
    customer_id: str
    already_erased: bool
    deleted_in_stripe: bool
    rows: dict[str, int]
