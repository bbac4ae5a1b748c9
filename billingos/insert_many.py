"""``insert_new``: many rows in one ``INSERT .. ON CONFLICT DO NOTHING .. RETURNING`` a statement (chunked
under the backends' parameter limits), for the bulk intakes (``webhooks.store_many``, ``jobs.enqueue_many``).
The plural of ``db.insert_ignore``: never check-then-insert, and it says which rows were new."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .db import insert_ignore

__all__ = ["insert_new"]

MAX_PARAMETERS = 30_000        # SQLite allows 32,766 a statement, PostgreSQL 65,535


def insert_new(session: Session, model: type[Any], rows: Sequence[dict[str, Any]], *,
               key: list[str]) -> set[tuple[Any, ...]]:
    """Insert ``rows`` (attribute names -> values, all with the same keys) whose ``key`` is not stored yet;
    a key repeated within ``rows`` is inserted once (its first row). Returns the keys of the rows inserted."""
    if not rows:
        return set()
    name = {a.key: a.columns[0].name for a in model.__mapper__.column_attrs}
    table = model.__table__
    dialect = session.get_bind().dialect.name
    first: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        first.setdefault(tuple(row[k] for k in key), row)
    unique = [{name[k]: v for k, v in row.items()} for row in first.values()]
    if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - other backends: one row at a time
        return {k for k, row in first.items() if insert_ignore(session, model, row, key=key)}
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    returned = [table.c[name[k]] for k in key]
    per = max(1, MAX_PARAMETERS // max(1, len(unique[0])))
    inserted: set[tuple[Any, ...]] = set()
    for lo in range(0, len(unique), per):
        stmt = make(table).values(unique[lo:lo + per]).on_conflict_do_nothing(
            index_elements=[name[k] for k in key]).returning(*returned)
        inserted.update(tuple(r) for r in session.execute(stmt))
    return inserted

