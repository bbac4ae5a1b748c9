"""Intents: one caller's request to create something in Stripe, recorded before the Stripe call.

A create can fail after Stripe made the object (the local commit fails, the process dies, the network
drops the answer). The retry must then find that object, not make a second one, even after reconcile
brought the object back locally and even past Stripe's 24 h idempotency window. So each create is an
intent row, committed on its own before Stripe is called:

- ``begin`` returns the intent and its idempotency key. A caller's own key names the intent; without
  one, an unfinished intent for the same subject and parameters is reused (a retry), and a finished one
  makes the next identical request a new intent (a deliberate second purchase).
- the key also goes into the Stripe object's metadata (``METADATA_KEY``), so a retried intent can look
  its object up in Stripe before creating anything;
- ``finish`` marks it done in the transaction that stores the object locally (both or neither);
  ``refuse`` marks it failed when Stripe refused it for good, so the next attempt is a new request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, UTCDateTime
from .db import BigID as ID
from .errors import ConflictError, NotFoundError, StripeRequestError, StripeUnavailableError
from .stripe_api import intent_key

if TYPE_CHECKING:
    from .context import Context

__all__ = ["IDEMPOTENCY_WINDOW", "METADATA_KEY", "BillingIntent", "Intent", "begin", "carrying", "finish", "make",
           "refuse"]

METADATA_KEY = "billingos_intent"
IDEMPOTENCY_WINDOW = timedelta(hours=23)   # Stripe keeps keys at least 24 h; an hour of margin for clocks


class BillingIntent(Base):
    """One create request: its idempotency key, what it was for, and whether it finished."""

    __tablename__ = "billing_intents"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255), index=True)   # the owner id or customer id it is for
    digest: Mapped[str] = mapped_column(String(64))                 # the request's parameters, hashed
    status: Mapped[str] = mapped_column(String(16))                 # pending, done or failed
    object_id: Mapped[str | None] = mapped_column(String(255))      # what Stripe made, once known
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Intent:
    key: str
    status: str
    object_id: str | None
    created_at: datetime
    retried: bool       # an earlier attempt of this intent ran (its Stripe object may exist)

    def past_idempotency(self, now: datetime) -> bool:
        """Stripe may have forgotten the key: a retry must look the object up before creating."""
        return self.retried and now - self.created_at >= IDEMPOTENCY_WINDOW


def digest(params: Any) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def begin(ctx: Context, action: str, subject: str, params: Any, *, key: str | None = None) -> Intent:
    """The intent for this request (recorded and committed now, before any Stripe call)."""
    dig = digest(params)
    now = ctx.now()
    for _ in range(3):    # a concurrent identical request may insert the same key first: then it is ours too
        with ctx.session_factory() as session:
            if key is not None:
                rows = list(session.scalars(select(BillingIntent).where(BillingIntent.key == key)))
                row = rows[0] if rows else None
            else:    # one read (one snapshot): the unfinished intent to reuse, or how many came before
                rows = list(session.scalars(select(BillingIntent).where(
                    BillingIntent.action == action, BillingIntent.subject == subject,
                    BillingIntent.digest == dig).order_by(BillingIntent.id)))
                row = next((r for r in rows if r.status == "pending"), None)
            if row is not None:
                if row.digest != dig or row.action != action:
                    raise ConflictError(f"idempotency_key {key!r} was already used for a different request.",
                                        param="idempotency_key")
                return Intent(row.key, row.status, row.object_id, row.created_at, retried=True)
            new = key or intent_key(action, subject, dig, len(rows))
            session.add(BillingIntent(key=new, action=action, subject=subject, digest=dig, status="pending",
                                      created_at=now, updated_at=now))
            try:
                session.commit()
            except IntegrityError:     # the same request, concurrently: share its intent, whatever its state now
                session.rollback()
                key = new
                continue
            return Intent(new, "pending", None, now, retried=False)
    raise ConflictError("The same request is being made concurrently; try again.", param="idempotency_key")


def finish(session: Session, key: str, object_id: str, now: datetime) -> None:
    """In the transaction that stores ``object_id`` locally: the intent is done (with it, or not at all)."""
    session.execute(update(BillingIntent).where(BillingIntent.key == key)
                    .values(status="done", object_id=object_id, updated_at=now))


def refuse(ctx: Context, key: str) -> None:
    """Stripe refused the request for good (a decline, a bad parameter): the next attempt is a new one."""
    with ctx.transaction() as session:
        session.execute(update(BillingIntent).where(BillingIntent.key == key, BillingIntent.status == "pending")
                        .values(status="failed", updated_at=ctx.now()))


def make(ctx: Context, intent: Intent, create: Callable[[], dict[str, Any]],
         find: Callable[[], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """The intent's Stripe object: on a retry, what an earlier attempt made (``find``), else ``create()``.
    A refusal marks the intent failed; an unknown outcome (Stripe unreachable) leaves it for the retry."""
    if intent.retried and find is not None:
        found = find()
        if found is not None:
            return found
    try:
        return create()
    except StripeUnavailableError:
        raise
    except (StripeRequestError, NotFoundError):
        refuse(ctx, intent.key)
        raise


def carrying(objects: Iterable[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The object whose metadata carries intent ``key``."""
    return next((o for o in objects if (o.get("metadata") or {}).get(METADATA_KEY) == key), None)
