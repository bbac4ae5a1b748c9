"""consume / reserve / commit / release: the transactions behind metered quotas (see quota.py)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import validation
from ..db import insert_ignore
from ..errors import ConflictError, InvalidInputError, NotFoundError
from .cache import BackendDown
from .inputs import amount_of, feature_key, idempotency_key_of
from .models import BillingEntitlementCounter, BillingEntitlementUsage
from .quota import Spec, add_used, carried_for, counter_for, held, live_grants, peek_counter, retrying, spec_for, window
from .schemas import Check, Reservation

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["QuotaOps"]

MAX_TIMEOUT = timedelta(days=7)
TOKEN_BYTES = 16            # 128 random bits, as 32 hex characters (hex: no "_" to confuse the id's separator)


class QuotaOps:
    def __init__(self, ctx: Context, *, known_type: Callable[[str], str], policy: Callable[[str], str]) -> None:
        self._ctx = ctx
        self._known_type = known_type
        self._policy = policy

    # --- reads ---------------------------------------------------------------------------------------
    def usage(self, owner_id: str, key: str, spec: Spec, now: datetime) -> tuple[int, int]:
        """(used including live reservations, carried in) for the current window."""
        with self._ctx.session_factory() as session:
            counter = peek_counter(session, owner_id, key, spec, now)
            if counter is None:
                return 0, carried_for(session, owner_id, key, spec, window(spec, now)[0])
            return counter.used + held(session, counter.id, now), counter.carried

    # --- validation ------------------------------------------------------------------------------------
    def _inputs(self, owner_id: Any, key: Any, amount: Any, idempotency_key: Any) -> tuple[str, str, int, str]:
        owner_id = validation.owner_id(owner_id)
        key = feature_key(key)
        amount = amount_of(amount)
        idempotency_key = idempotency_key_of(idempotency_key)
        if self._known_type(key) != "metered":
            raise InvalidInputError(f"{key!r} is a boolean feature: use has_feature()/check(); consume() and "
                                    "reserve() are for metered features.", param="key")
        return owner_id, key, amount, idempotency_key

    def _down(self, key: str) -> Check:
        if self._policy(key) == "open":
            return Check(True, None, None, None, None, "fail_open")
        return Check(False, None, None, None, None, "fail_closed")

    # --- consume -----------------------------------------------------------------------------------------
    def consume(self, owner_id: str, key: str, amount: int, idempotency_key: str) -> Check:
        try:
            owner_id, key, amount, idempotency_key = self._inputs(owner_id, key, amount, idempotency_key)
        except BackendDown:
            return self._down(key)
        try:
            return retrying(lambda: self._consume(owner_id, key, amount, idempotency_key))
        except SQLAlchemyError:
            return self._down(key)

    def _consume(self, owner_id: str, key: str, amount: int, idem: str) -> Check:
        now = self._ctx.now()
        with self._ctx.transaction() as session:
            rows = live_grants(session, owner_id, key, now)
            if not rows:
                return Check(False, None, None, None, None, "not_granted")
            spec = spec_for(rows)
            counter = counter_for(session, owner_id, key, spec, now, lock=True)
            dup = self._by_key(session, owner_id, idem)
            if dup is not None:
                if (dup.feature_key, dup.amount, dup.kind) != (key, amount, "consume"):
                    raise ConflictError(f"idempotency_key {idem!r} was already used for a different call "
                                        f"({dup.kind} {dup.amount} of {dup.feature_key!r}).", param="idempotency_key")
                return self._state(session, counter, spec, now, 0, "duplicate")
            used = counter.used + held(session, counter.id, now)
            limit = None if spec.limit is None else spec.limit + counter.carried
            if limit is not None and used + amount > limit:
                return Check(False, limit, used, max(0, limit - used), window(spec, now)[1], "limit_reached")
            self._record(session, owner_id, key, counter.id, idem, "consume", amount, "committed", None, now)
            add_used(session, counter.id, amount)
            return self._state(session, counter, spec, now, amount, "grace_period" if spec.grace else "granted")

    def _state(self, session: Session, counter: BillingEntitlementCounter, spec: Spec, now: datetime, added: int,
               reason: str) -> Check:
        used = counter.used + added + held(session, counter.id, now)
        limit = None if spec.limit is None else spec.limit + counter.carried
        return Check(True, limit, used, None if limit is None else max(0, limit - used), window(spec, now)[1], reason)

    def _by_key(self, session: Session, owner_id: str, idem: str) -> BillingEntitlementUsage | None:
        return session.scalars(select(BillingEntitlementUsage).where(
            BillingEntitlementUsage.owner_id == owner_id, BillingEntitlementUsage.idempotency_key == idem)
            .execution_options(populate_existing=True)).first()

    def _record(self, session: Session, owner_id: str, key: str, counter_id: int, idem: str, kind: str, amount: int,
                status: str, expires_at: datetime | None, now: datetime, token: str | None = None) -> None:
        values: dict[str, Any] = {
            "owner_id": owner_id, "feature_key": key, "counter_id": counter_id, "idempotency_key": idem,
            "kind": kind, "amount": amount, "status": status, "expires_at": expires_at, "created_at": now,
            "settled_at": now if status == "committed" else None}
        if token is not None:
            values["token"] = token
        inserted = insert_ignore(session, BillingEntitlementUsage, values, key=["owner_id", "idempotency_key"])
        if not inserted:   # the same key, concurrently, for another feature of this owner
            raise ConflictError(f"idempotency_key {idem!r} is being used by another call right now.",
                                param="idempotency_key")

    # --- reservations ------------------------------------------------------------------------------------
    def reserve(self, owner_id: str, key: str, amount: int, idempotency_key: str, *,
                timeout: timedelta) -> Reservation:
        if not isinstance(timeout, timedelta) or not timedelta(seconds=1) <= timeout <= MAX_TIMEOUT:
            raise InvalidInputError("timeout must be a timedelta from 1 second to 7 days.", param="timeout")
        try:
            owner_id, key, amount, idempotency_key = self._inputs(owner_id, key, amount, idempotency_key)
        except BackendDown:
            return self._refused(owner_id, key, amount, self._down(key))
        try:
            return retrying(lambda: self._reserve(owner_id, key, amount, idempotency_key, timeout))
        except SQLAlchemyError:
            return self._refused(owner_id, key, amount, self._down(key))

    def _refused(self, owner_id: str, key: str, amount: int, check: Check) -> Reservation:
        check = check if not check.allowed else Check(False, None, None, None, None, "fail_closed")
        return Reservation(id=None, owner_id=owner_id, feature=key, amount=amount, expires_at=None, check=check)

    def _reserve(self, owner_id: str, key: str, amount: int, idem: str, timeout: timedelta) -> Reservation:
        now = self._ctx.now()
        with self._ctx.transaction() as session:
            rows = live_grants(session, owner_id, key, now)
            if not rows:
                return self._refused(owner_id, key, amount, Check(False, None, None, None, None, "not_granted"))
            spec = spec_for(rows)
            counter = counter_for(session, owner_id, key, spec, now, lock=True)
            dup = self._by_key(session, owner_id, idem)
            if dup is not None:
                if (dup.feature_key, dup.amount, dup.kind) != (key, amount, "reservation"):
                    raise ConflictError(f"idempotency_key {idem!r} was already used for a different call.",
                                        param="idempotency_key")
                if not dup.token:   # reserved before revision 0003: its old id is refused, so mint one that works
                    dup.token = secrets.token_hex(TOKEN_BYTES)
                check = self._state(session, counter, spec, now, 0, "duplicate")
                return Reservation(id=_public_id(dup), owner_id=owner_id, feature=key, amount=amount,
                                   expires_at=dup.expires_at, check=check)
            used = counter.used + held(session, counter.id, now)
            limit = None if spec.limit is None else spec.limit + counter.carried
            if limit is not None and used + amount > limit:
                return self._refused(owner_id, key, amount, Check(False, limit, used, max(0, limit - used),
                                                                  window(spec, now)[1], "limit_reached"))
            expires = now + timeout
            self._record(session, owner_id, key, counter.id, idem, "reservation", amount, "held", expires, now,
                         token=secrets.token_hex(TOKEN_BYTES))
            row = self._by_key(session, owner_id, idem)
            assert row is not None
            check = self._state(session, counter, spec, now, 0, "grace_period" if spec.grace else "granted")
            return Reservation(id=_public_id(row), owner_id=owner_id, feature=key, amount=amount, expires_at=expires,
                               check=check)

    def commit(self, reservation: Reservation | str, amount: int | None, *, owner_id: str | None = None) -> Check:
        rid, token = _reservation_ref(reservation)
        owner = None if owner_id is None else validation.owner_id(owner_id)
        if amount is not None:
            amount_of(amount, minimum=0)
        return retrying(lambda: self._settle(rid, token, owner, amount, commit=True))

    def release(self, reservation: Reservation | str, *, owner_id: str | None = None) -> bool:
        rid, token = _reservation_ref(reservation)
        owner = None if owner_id is None else validation.owner_id(owner_id)
        return bool(retrying(lambda: self._settle(rid, token, owner, None, commit=False)).allowed)

    def _settle(self, rid: int, token: str, owner_id: str | None, amount: int | None, *, commit: bool) -> Check:
        now = self._ctx.now()
        with self._ctx.transaction() as session:
            first = session.get(BillingEntitlementUsage, rid)
            if first is None or not _names(first, token, owner_id):
                # one answer for unknown, wrong token and wrong owner, so ids cannot be probed
                raise NotFoundError(f"No reservation rsv_{rid}_...: pass the id reserve() returned (and, with "
                                    "owner_id, the owner it was made for).", param="reservation")
            # lock the counter first (a write: SQLite's writer lock; a row lock on PostgreSQL), then re-read
            session.execute(update(BillingEntitlementCounter).where(BillingEntitlementCounter.id == first.counter_id)
                            .values(used=BillingEntitlementCounter.used).execution_options(synchronize_session=False))
            row = session.scalars(select(BillingEntitlementUsage).where(BillingEntitlementUsage.id == rid)
                                  .execution_options(populate_existing=True)).one()
            counter = session.scalars(select(BillingEntitlementCounter).where(
                BillingEntitlementCounter.id == row.counter_id).execution_options(populate_existing=True)).one()
            if row.status != "held" or row.expires_at is None or row.expires_at <= now:
                if not commit:
                    return Check(False, None, None, None, None, row.status if row.status != "held" else "expired")
                if row.status == "committed" and (amount is None or amount == row.amount):
                    return self._settled(session, row, counter, now, 0, "duplicate")
                raise ConflictError(f"Reservation rsv_{rid} is {row.status if row.status != 'held' else 'expired'}; "
                                    "it can no longer be committed. Reserve again or consume().",
                                    param="reservation")
            if not commit:
                row.status, row.settled_at = "released", now
                return self._settled(session, row, counter, now, 0, "released")
            actual = row.amount if amount is None else amount
            if actual > row.amount:
                raise InvalidInputError(f"amount {actual} is more than the {row.amount} reserved; consume() the rest.",
                                        param="amount")
            row.status, row.amount, row.settled_at = "committed", actual, now
            add_used(session, counter.id, actual)
            return self._settled(session, row, counter, now, actual, "granted")

    def _settled(self, session: Session, row: BillingEntitlementUsage, counter: BillingEntitlementCounter,
                 now: datetime, added: int, reason: str) -> Check:
        """The Check after settling: the same limit, used and remaining as check() (issue 8 item 10: a
        ``limit=None`` here read as "unlimited"). Without a live grant any more it has no limit to report."""
        session.flush()      # the settled row is no longer held
        rows = live_grants(session, row.owner_id, row.feature_key, now)
        if not rows:
            return Check(True, None, counter.used + added, None, counter.window_end, reason)
        return self._state(session, counter, spec_for(rows), now, added, reason)

    def expire_reservations(self, now: datetime) -> int:
        with self._ctx.transaction() as session:
            result = session.execute(update(BillingEntitlementUsage).where(
                BillingEntitlementUsage.status == "held", BillingEntitlementUsage.expires_at <= now)
                .values(status="expired", settled_at=now).execution_options(synchronize_session=False))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _public_id(row: BillingEntitlementUsage) -> str:
    return f"rsv_{row.id}_{row.token}"


def _names(row: BillingEntitlementUsage, token: str, owner_id: str | None) -> bool:
    """Whether ``rsv_<row.id>_<token>`` (for ``owner_id``, when given) is this reservation's id."""
    # compared first and in constant time, so timing says nothing about the stored token
    same = hmac.compare_digest(row.token, token)
    return same and row.kind == "reservation" and (owner_id is None or row.owner_id == owner_id)


def _reservation_ref(value: Any) -> tuple[int, str]:
    """(row id, token) of a Reservation or its id ``rsv_<n>_<token>``; raises InvalidInputError when malformed.

    The id is never echoed in a message: it is a secret, and messages end up in logs."""
    if isinstance(value, Reservation) and value.id is None:
        raise InvalidInputError(f"This reservation was refused (reason {value.check.reason!r}): there is nothing "
                                "to commit or release.", param="reservation")
    raw = value.id if isinstance(value, Reservation) else value
    if not isinstance(raw, str):
        raise InvalidInputError("reservation must be a Reservation from reserve() or its id 'rsv_<n>_<token>', "
                                f"got {type(raw).__name__}.", param="reservation")
    number, _, token = raw[4:].partition("_") if raw.startswith("rsv_") else ("", "", "")
    if not token and number.isascii() and number.isdigit():
        raise InvalidInputError("Reservation ids of the form 'rsv_<n>' are no longer accepted (they could be "
                                "guessed): pass the Reservation from reserve() or its full id 'rsv_<n>_<token>'.",
                                param="reservation")
    hex_token = len(token) == 2 * TOKEN_BYTES and all(c in "0123456789abcdef" for c in token)
    if not (number.isascii() and number.isdigit() and len(number) <= 18 and hex_token):
        raise InvalidInputError("reservation must be a Reservation from reserve() or its id 'rsv_<n>_<token>' "
                                f"(a {2 * TOKEN_BYTES}-character hex token); this string is malformed.",
                                param="reservation")
    return int(number), token
