"""The alerts and insights store: record once, list with filters (keyset pagination, newest first), mark
read, dismissed or acted on (who and when), export to CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from .. import validation
from ..actor import Actor, parse_actor
from ..customers.schemas import Page
from ..domain_events import InsightMarked
from ..errors import ConflictError, InvalidInputError, NotFoundError
from .models import KINDS, STATES, BillingInsight
from .schemas import Insight

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["AlertStore"]

CSV_COLUMNS = ("id", "created_at", "kind", "owner_id", "state", "message", "read_at", "read_by", "dismissed_at",
               "dismissed_by", "acted_at", "acted_by", "note", "data")
#: Which states each mark moves from: a dismissed or acted-on insight is settled.
_FROM = {"read": ("new",), "dismissed": ("new", "read"), "acted": ("new", "read")}


class AlertStore:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def record(self, session: Session, *, kind: str, owner_id: str, dedupe_key: str, message: str,
               data: dict[str, Any]) -> int | None:
        """Store an insight in ``session``'s transaction; None when ``dedupe_key`` was recorded before."""
        t = BillingInsight
        values = {"kind": kind, "owner_id": owner_id, "dedupe_key": dedupe_key[:255], "message": message,
                  "data": data, "state": "new", "created_at": self._ctx.now()}
        dialect = session.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            from sqlalchemy.dialects import postgresql, sqlite
            stmt: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t).values(**values)
            found = session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(t.id)).first()
            return None if found is None else int(found[0])
        if session.scalar(select(t.id).where(t.dedupe_key == values["dedupe_key"])) is not None:  # pragma: no cover
            return None
        return int(session.execute(insert(t).values(**values).returning(t.id)).scalar_one())  # pragma: no cover

    def record_many(self, session: Session, items: list[dict[str, Any]]) -> list[int | None]:
        """``record`` for many insights (each a dict of its arguments) in a few statements; the ids in order."""
        dialect = session.get_bind().dialect.name
        if dialect not in ("postgresql", "sqlite"):   # pragma: no cover
            return [self.record(session, **item) for item in items]
        from sqlalchemy.dialects import postgresql, sqlite
        t = BillingInsight
        now = self._ctx.now()
        rows = [{**item, "dedupe_key": item["dedupe_key"][:255], "state": "new", "created_at": now} for item in items]
        ids: dict[str, int] = {}
        for lo in range(0, len(rows), 500):        # 7 values a row: well inside SQLite's parameter limit
            stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t).values(rows[lo:lo + 500])
            found = session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
                                    .returning(t.dedupe_key, t.id))
            ids.update({key: int(i) for key, i in found})
        return [ids.get(r["dedupe_key"]) for r in rows]

    # --- reading ----------------------------------------------------------------------------------
    def list(self, *, kind: str | None = None, owner_id: str | None = None, state: str | None = None,
             since: datetime | None = None, until: datetime | None = None, limit: int = 50,
             after: str | None = None) -> Page[Insight]:
        validation.limit(limit, maximum=1000)
        stmt = self._query(kind=kind, owner_id=owner_id, state=state, since=since, until=until)
        start = validation.cursor_row(after, "n")
        if start is not None:
            stmt = stmt.where(BillingInsight.id < start)
        with self._ctx.session_factory() as s:
            rows, cursor = validation.keyset_page(list(s.scalars(stmt.limit(limit + 1))), limit, "n")
        return Page[Insight](items=[Insight.from_row(r) for r in rows], next_cursor=cursor)

    def get(self, insight_id: int) -> Insight:
        validation.integer(insight_id, "insight_id", minimum=1, maximum=2**63 - 1)
        with self._ctx.session_factory() as s:
            row = s.get(BillingInsight, insight_id)
        if row is None:
            raise NotFoundError(f"No insight {insight_id}.", param="insight_id")
        return Insight.from_row(row)

    def unread(self, *, kind: str | None = None) -> int:
        from sqlalchemy import func
        stmt = select(func.count()).select_from(BillingInsight).where(BillingInsight.state == "new")
        if kind is not None:
            stmt = stmt.where(BillingInsight.kind == validation.choice(kind, "kind", KINDS))
        with self._ctx.session_factory() as s:
            return int(s.scalar(stmt) or 0)

    def export_csv(self, *, kind: str | None = None, owner_id: str | None = None, state: str | None = None,
                   since: datetime | None = None, until: datetime | None = None) -> str:
        """Every insight the filters match, newest first, as CSV text (``data`` as a JSON column)."""
        return "".join(self.iter_csv(kind=kind, owner_id=owner_id, state=state, since=since, until=until))

    def iter_csv(self, *, kind: str | None = None, owner_id: str | None = None, state: str | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> Iterator[str]:
        stmt = self._query(kind=kind, owner_id=owner_id, state=state, since=since, until=until)
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(CSV_COLUMNS)
        with self._ctx.session_factory() as s:
            for row in s.scalars(stmt.execution_options(yield_per=1000)):
                out.writerow([_cell(getattr(row, c)) if c != "data" else json.dumps(row.data, sort_keys=True)
                              for c in CSV_COLUMNS])
                if buf.tell() > 65536:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    def _query(self, *, kind: Any, owner_id: Any, state: Any, since: Any, until: Any) -> Any:
        t = BillingInsight
        stmt = select(t).order_by(t.id.desc())
        if kind is not None:
            stmt = stmt.where(t.kind == validation.choice(kind, "kind", KINDS))
        if owner_id is not None:
            stmt = stmt.where(t.owner_id == validation.owner_id(owner_id))
        if state is not None:
            stmt = stmt.where(t.state == validation.choice(state, "state", STATES))
        if since is not None:
            stmt = stmt.where(t.created_at >= validation.aware_datetime(since, "since"))
        if until is not None:
            stmt = stmt.where(t.created_at < validation.aware_datetime(until, "until"))
        if since is not None and until is not None and until <= since:
            raise InvalidInputError("until must be after since.", param="until")
        return stmt

    # --- marking ----------------------------------------------------------------------------------
    def mark(self, insight_id: int, state: str, *, by: str, note: str | None = None,
             actor: Actor | None = None) -> Insight:
        """Move an insight to ``read``, ``dismissed`` or ``acted``, recording ``by`` (who) and when, and an audit
        entry (``insight.read``...) naming ``actor`` (default: the system). Marking it again in the same state
        changes nothing; a settled (dismissed or acted) insight cannot move back."""
        validation.integer(insight_id, "insight_id", minimum=1, maximum=2**63 - 1)
        who_audited = parse_actor(actor)
        validation.choice(state, "state", tuple(_FROM))
        who = validation.text(by, "by", max_length=255, required=True)
        note = validation.text(note, "note", max_length=2000, multiline=True)
        t = BillingInsight
        with self._ctx.transaction() as s:
            row = s.get(t, insight_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"No insight {insight_id}.", param="insight_id")
            if row.state == state:
                return Insight.from_row(row)
            if row.state not in _FROM[state]:
                raise ConflictError(f"Insight {insight_id} is already {row.state}; it cannot be marked {state}.",
                                    param="state")
            values: dict[str, Any] = {"state": state, f"{state}_at": self._ctx.now(), f"{state}_by": who}
            if note is not None:
                values["note"] = note
            if state != "read" and row.read_at is None:     # settling an unread insight reads it too
                values.update(read_at=values[f"{state}_at"], read_by=who)
            before = Insight.from_row(row)
            s.execute(update(t).where(t.id == insight_id).values(**values))
            s.refresh(row)
            after = Insight.from_row(row)
            self._ctx.events.publish(s, InsightMarked(before, after, who_audited))
            return after


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text   # no formulas when opened in a spreadsheet

