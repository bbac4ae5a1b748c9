"""The database side: billingos's own MetaData, a declarative base, upserts and after-commit hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, String, any_, bindparam, event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session, lazyload, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "BigID",
    "JSONType",
    "UTCDateTime",
    "in_many",
    "insert_ignore",
    "metadata",
    "on_commit",
    "transaction",
    "upsert",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    metadata = metadata


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("billingos stores aware datetimes only (tzinfo=UTC).")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")

#: Surrogate primary keys: BIGINT, except SQLite, where only INTEGER PRIMARY KEY autoincrements.
BigID = BigInteger().with_variant(Integer(), "sqlite")


def upsert(session: Session, model: Any, values: dict[str, Any], *, key: list[str],
           update: list[str] | None = None, lazy: tuple[str, ...] = ()) -> Any:
    """INSERT .. ON CONFLICT (key) DO UPDATE .. RETURNING the ORM row. Never check-then-insert.

    ``lazy``: relationships of the row loaded on first access instead of eagerly (the caller sets them)."""
    cols = update if update is not None else [c for c in values if c not in key]
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - other backends take the portable path
        return _portable_upsert(session, model, values, key, cols)
    stmt = _upsert_statement(model, dialect, tuple(values), tuple(key), tuple(cols), lazy)
    params = {_param(k): v for k, v in values.items()}
    # "orm": the statement carries its VALUES; the parameters only fill them in (not an ORM bulk insert)
    row = session.scalars(stmt, params, execution_options={"populate_existing": True, "dml_strategy": "orm"}).first()
    if row is None:  # DO NOTHING on a conflict returns no row: read the existing one
        row = session.scalars(_key_select(model, tuple(key)), {_param(k): values[k] for k in key},
                              execution_options={"populate_existing": True}).one()
    return row


def insert_ignore(session: Session, model: Any, values: dict[str, Any], *, key: list[str]) -> bool:
    """INSERT .. ON CONFLICT DO NOTHING. True when this call inserted the row."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover
        name = _column_names(model)
        with session.begin_nested():
            where = [getattr(model, k) == values[k] for k in key]
            if session.scalars(select(model).where(*where).with_for_update()).first() is not None:
                return False
            session.execute(insert(model.__table__).values(**{name[k]: v for k, v in values.items()}))
            return True
    stmt = _insert_ignore_statement(model, dialect, tuple(values), tuple(key))
    return session.execute(stmt, {_param(k): v for k, v in values.items()}).first() is not None


# Statements are immutable: each shape (model, dialect, columns) is built once and reused, so a call
# costs binding its values, not building the statement and its cache key again (the sync path's hot spot).
# Values travel as named parameters ``v_<attribute>``.

def _param(attr: str) -> str:
    return f"v_{attr}"


@lru_cache(maxsize=256)
def _column_names(model: Any) -> dict[str, str]:
    """ORM attribute -> column name."""
    return {a.key: a.columns[0].name for a in model.__mapper__.column_attrs}


def _dialect_insert(model: Any, dialect: str) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _bound(model: Any, attrs: tuple[str, ...], *, by_column: bool) -> dict[str, Any]:
    """VALUES as named parameters, typed like their columns; keyed by attribute (an ORM insert, as
    ``values(**values)`` was) or by column name (a table insert)."""
    table, name = model.__table__, _column_names(model)
    return {name[a] if by_column else a: bindparam(_param(a), type_=table.c[name[a]].type) for a in attrs}


@lru_cache(maxsize=512)
def _upsert_statement(model: Any, dialect: str, attrs: tuple[str, ...], key: tuple[str, ...],
                      cols: tuple[str, ...], lazy: tuple[str, ...]) -> Any:
    name = _column_names(model)
    stmt: Any = _dialect_insert(model, dialect).values(_bound(model, attrs, by_column=False))
    if cols:
        stmt = stmt.on_conflict_do_update(index_elements=[name[k] for k in key],
                                          set_={name[c]: stmt.excluded[name[c]] for c in cols})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[name[k] for k in key])
    return stmt.returning(model).options(*(lazyload(getattr(model, r)) for r in lazy))


@lru_cache(maxsize=256)
def _key_select(model: Any, key: tuple[str, ...]) -> Any:
    return select(model).where(*[getattr(model, k) == bindparam(_param(k)) for k in key])


@lru_cache(maxsize=512)
def _insert_ignore_statement(model: Any, dialect: str, attrs: tuple[str, ...], key: tuple[str, ...]) -> Any:
    name = _column_names(model)
    pk = next(iter(model.__table__.primary_key.columns))
    return (_dialect_insert(model.__table__, dialect).values(_bound(model, attrs, by_column=True))
            .on_conflict_do_nothing(index_elements=[name[k] for k in key]).returning(pk))


def in_many(session: Session, column: Any, values: Iterable[str]) -> Iterator[Any]:
    """``column IN values`` as few clauses as the backend allows: one ``= ANY(array)`` on PostgreSQL (one
    parameter, however many values), IN lists of 1,000 on SQLite (at most 32,766 parameters a statement).
    Run the query once per clause and merge the rows."""
    items = sorted(set(values))
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, items, type_=postgresql.ARRAY(String)))
        return
    for lo in range(0, len(items), 1000):
        yield column.in_(items[lo:lo + 1000])


def _portable_upsert(session: Session, model: type[Any], values: dict[str, Any], key: list[str],
                     cols: list[str]) -> Any:
    where = [getattr(model, k) == values[k] for k in key]
    with session.begin_nested():
        row = session.scalars(select(model).where(*where).with_for_update()).first()
        if row is None:
            session.execute(insert(model.__table__).values(**values))
        else:
            for c in cols:
                setattr(row, c, values[c])
    return session.scalars(select(model).where(*where)).one()


_HOOKS = "billingos_on_commit"
_LISTENING = "billingos_listening"


def on_commit(session: Session, fn: Callable[[], Any]) -> None:
    """Run ``fn`` after the session's transaction commits; drop it if the transaction rolls back."""
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _run_hooks)
        event.listen(session, "after_rollback", _drop_hooks)
    session.info.setdefault(_HOOKS, []).append(fn)


def _run_hooks(session: Session) -> None:
    for fn in session.info.pop(_HOOKS, []):
        fn()


def _drop_hooks(session: Session) -> None:
    session.info.pop(_HOOKS, None)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error; after-commit hooks then run."""
    with factory() as session, session.begin():
        yield session
