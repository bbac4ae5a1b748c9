"""What entitlement calls return: ``Check``, ``Grant`` and ``Reservation`` (plain, frozen, cheap)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["POLICIES", "REASONS", "Check", "Grant", "Policy", "Reservation"]

Policy = Literal["open", "closed", "last_known"]
POLICIES: tuple[str, ...] = ("open", "closed", "last_known")

#: Every ``Check.reason``. ``allowed`` is True only for granted, grace_period, duplicate and fail_open
#: (and last_known when the last known answer was a yes).
REASONS = (
    "granted",          # the owner has the feature (and, for metered ones, room for ``amount``)
    "grace_period",     # granted, but only because a past_due subscription is inside its grace period
    "duplicate",        # consume(): this idempotency key was already counted; nothing counted twice
    "not_granted",      # no live grant: no plan includes it, the subscription ended, or an override expired
    "limit_reached",    # metered: used + reserved + amount would exceed the limit this window
    "unknown_feature",  # no feature has that lookup_key (check the catalog)
    "invalid_input",    # check() got a malformed owner id, key or amount (consume() raises instead)
    "fail_open",        # a backend was unreachable; the feature's policy allowed
    "fail_closed",      # a backend was unreachable; the feature's policy denied
    "last_known",       # a backend was unreachable; this is the last answer this process saw
)


@dataclass(frozen=True, slots=True)
class Check:
    """The answer to ``billing.check(owner, key, amount)``. Truthy when ``allowed``.

    For boolean features ``limit``, ``used``, ``remaining`` and ``resets_at`` are None. For metered ones
    ``limit`` is None when unlimited; ``used`` includes live reservations; ``remaining`` is what is
    left before ``amount`` is taken; ``resets_at`` is when the window resets (None: never)."""

    allowed: bool
    limit: int | None
    used: int | None
    remaining: int | None
    resets_at: datetime | None
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True, slots=True)
class Grant:
    """One live grant: where a feature comes from for an owner."""

    owner_id: str
    feature: str
    source: str                 # "subscription:sub_..." or "override"
    type: str                   # boolean | metered
    limit: int | None
    reset: str | None
    rollover: bool
    expires_at: datetime | None
    grace_until: datetime | None
    reason: str | None

    @classmethod
    def from_row(cls, row: Any) -> Grant:
        return cls(owner_id=row.owner_id, feature=row.feature_key, source=row.source, type=row.feature_type,
                   limit=row.limit_value, reset=row.reset, rollover=row.rollover, expires_at=row.expires_at,
                   grace_until=row.grace_until, reason=row.reason)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Capacity held for a long job: ``commit`` it (all or part) or ``release`` it before ``expires_at``.

    ``id`` (``rsv_<n>_<token>``, the token 128 random bits) is a capability: anyone holding it can commit
    or release the reservation, so hand it only to whoever may, and pass ``owner_id=`` to bind it."""

    id: str | None              # None when the reservation was refused (see ``check.reason``)
    owner_id: str
    feature: str
    amount: int
    expires_at: datetime | None
    check: Check

    def __bool__(self) -> bool:
        return self.check.allowed

    def __repr__(self) -> str:     # logs must not carry the capability: the token is left out
        shown = self.id and self.id.rsplit("_", 1)[0] + "_…"
        return (f"Reservation(id={shown!r}, owner_id={self.owner_id!r}, feature={self.feature!r}, "
                f"amount={self.amount!r}, expires_at={self.expires_at!r}, check={self.check!r})")
