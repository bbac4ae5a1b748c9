"""Apply what Stripe says without holding a row lock during the Stripe call, and never go back in time.

Every Stripe object billingos mirrors has a row in ``billing_locks`` with a ``version`` that goes up by
one each time a state of the object is applied. The protocol, for the webhook task and the write path:

1. read the object's version (no lock);
2. call Stripe (fetch the object, or the write that returns it), outside any transaction;
3. in one transaction, ``UPDATE billing_locks SET version = version + 1 WHERE name = :id AND version = :seen``:
   one row means nobody applied a state since step 1, so ours is at least as new as anything stored, and
   the row stays locked until the commit; zero rows means another worker applied a state meanwhile
   (perhaps newer than ours): roll back and go round again with a fresh fetch.

Stripe reads are linearizable, so a state fetched after step 1 is never older than one applied before
it. Workers on different objects never wait for each other; workers on one object wait only for a commit,
never for Stripe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from sqlalchemy import BigInteger, String, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, in_many, insert_ignore
from .errors import ConflictError

if TYPE_CHECKING:
    from .context import Context

__all__ = ["BillingLock", "StaleStateError", "apply_fresh", "claim_fresh", "lock_object", "read_versions"]

T = TypeVar("T")
ROUNDS = 5


class BillingLock(Base):
    """One row per Stripe object id: its applied-state version, and the row lock while one is applied."""

    __tablename__ = "billing_locks"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class StaleStateError(ConflictError):
    """The object kept changing while billingos applied it; the work is retried later."""


def read_versions(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Current versions (0 for an object never applied), read without locking."""
    names = list(dict.fromkeys(names))
    found: dict[str, int] = {}
    if len(names) == 1:      # the write path's and a webhook's case: one object
        found.update(session.execute(_statements().version, {"lock_name": names[0]}).all())
    else:
        for clause in in_many(session, BillingLock.name, names):
            found.update(session.execute(select(BillingLock.name, BillingLock.version).where(clause)).all())
    return {n: found.get(n, 0) for n in names}


def claim_fresh(session: Session, name: str, seen: int) -> bool:
    """Lock ``name`` and count one more applied state, if its version is still ``seen``."""
    if seen == 0 and insert_ignore(session, BillingLock, {"name": name, "version": 1}, key=["name"]):
        return True
    result = session.execute(_statements().claim, {"lock_name": name, "seen": seen})
    return bool(result.rowcount)  # type: ignore[attr-defined]


def lock_object(session: Session, name: str) -> None:
    """Serialise work on ``name`` without a Stripe call in between (and count it as an applied state)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):     # one statement: the new row at 1, or the stored one + 1
        session.execute(_lock_statement(dialect), {"lock_name": name})
        return
    insert_ignore(session, BillingLock, {"name": name, "version": 0}, key=["name"])  # pragma: no cover
    session.execute(_statements().bump, {"lock_name": name})  # pragma: no cover


@lru_cache(maxsize=4)
def _lock_statement(dialect: str) -> Any:
    table: Any = BillingLock.__table__
    stmt: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = stmt.values(name=bindparam("lock_name"), version=1)
    return stmt.on_conflict_do_update(index_elements=[table.c.name], set_={"version": table.c.version + 1})


class _Statements(NamedTuple):
    version: Any
    claim: Any
    bump: Any


@lru_cache(maxsize=1)
def _statements() -> _Statements:
    """Built once (they run on every applied state); values are bound per call."""
    lock, name = BillingLock, bindparam("lock_name", type_=String())
    bump = update(lock).values(version=lock.version + 1).execution_options(synchronize_session=False)
    return _Statements(version=select(lock.name, lock.version).where(lock.name == name),
                       claim=bump.where(lock.name == name, lock.version == bindparam("seen")),
                       bump=bump.where(lock.name == name))


def apply_fresh(ctx: Context, call: Callable[[], dict[str, Any]], apply: Callable[[Session, dict[str, Any]], T], *,
                refetch: Callable[[str], dict[str, Any]], name: str | None = None) -> T:
    """The write path's half of the protocol: ``call`` Stripe (a write that returns the object), then
    apply the answer only if no other state of the object was applied meanwhile; otherwise ``refetch`` it
    and go round again. ``name`` None: the object is new (created by ``call``), so any applied state is
    newer. StaleStateError after a few rounds."""
    with ctx.session_factory() as s:
        seen = 0 if name is None else read_versions(s, [name])[name]
    obj = call()
    lock = name or str(obj["id"])
    for _ in range(ROUNDS):
        with ctx.transaction() as session:
            if claim_fresh(session, lock, seen):
                return apply(session, obj)
        with ctx.session_factory() as s:
            seen = read_versions(s, [lock])[lock]
        obj = refetch(lock)
    raise StaleStateError(f"{lock} changed {ROUNDS} times while billingos applied it; try again.")
