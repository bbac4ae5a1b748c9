"""Scoring every paying customer: one feature read, one batch of predictions, upserts in chunks, and a
``churn_risk`` insight plus ``ChurnRiskDetected`` for each risk episode that opens."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from ..domain_events import ChurnRiskDetected
from .features import Snapshot
from .model import Fitted, describe, explain, sklearn_modules
from .models import BillingChurnScore, BillingChurnScoreHistory

__all__ = ["ScoreRun", "score_rows"]

CHUNK = 5000
#: How long every run's scores are kept for the trend on the admin customer page.
HISTORY_DAYS = 180
#: Reasons are worked out for this riskiest share of a run at least, and for everyone at or above half the
#: alert threshold: the customers a person looks at (a low risk needs no explaining).
REASONS_SHARE = 0.1
_SCORE_COLUMNS = ("owner_id", "score", "scored_at", "model_version", "reasons", "features", "episode_since")


@dataclass(frozen=True)
class ScoreRun:
    """What a scoring run did: ``scored`` customers, ``at_risk`` above the threshold, ``detected`` newly."""

    at: datetime
    model_version: int
    scored: int
    at_risk: int
    detected: tuple[str, ...]


def score_rows(snap: Snapshot, fitted: Fitted, *, threshold: float) -> tuple[list[float], list[list[str]]]:
    np = sklearn_modules()
    if not snap.rows:
        return [], []
    x = np.asarray(snap.rows, dtype=float)
    risk, reasons = explain(fitted, x, floor=threshold / 2, share=REASONS_SHARE)
    col = {n: j for j, n in enumerate(snap.names)}
    words = [[describe(name, float(x[i, col[name]])) for name, _ in why] for i, why in enumerate(reasons)]
    return [float(r) for r in risk], words


def store(s: Session, snap: Snapshot, risk: Sequence[float], words: Sequence[list[str]], *, version: int,
          threshold: float, record: Callable[[Session, list[tuple[str, float, list[str]]]], list[int | None]],
          publish: Any) -> ScoreRun:
    """Upsert each score; open or close each owner's risk episode; record and announce the new episodes."""
    t = BillingChurnScore
    episodes = dict(s.execute(select(t.owner_id, t.episode_since)).all())
    detected, at_risk = [], 0
    rows = []
    risk = [round(r, 6) for r in risk]          # as stored: the threshold compares what the merchant sees
    for i, owner in enumerate(snap.owners):
        since = episodes.get(owner)
        if risk[i] >= threshold:
            at_risk += 1
            if since is None:
                since = snap.at
                detected.append(i)
        else:
            since = None
        rows.append({"owner_id": owner, "score": risk[i], "scored_at": snap.at, "model_version": version,
                     "reasons": words[i], "features": {n: round(v, 4) for n, v in zip(snap.names, snap.rows[i],
                                                                                      strict=True)},
                     "episode_since": since})
    dialect = s.get_bind().dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy_upsert(s, rows)
    else:
        _upsert(s, rows)
    _keep_history(s, rows, version, snap.at)
    insights = record(s, [(snap.owners[i], risk[i], words[i]) for i in detected])
    mrr_col = snap.names.index("mrr")
    for i, insight in zip(detected, insights, strict=True):
        if insight is not None:
            mrr = round(snap.rows[i][mrr_col] * 100)
            publish(s, ChurnRiskDetected(snap.owners[i], risk[i], threshold, tuple(words[i]), insight, mrr))
    return ScoreRun(snap.at, version, len(rows), at_risk, tuple(snap.owners[i] for i in detected))


def _keep_history(s: Session, rows: Sequence[dict[str, Any]], version: int, at: datetime) -> None:
    """Append this run's scores to the history (a run repeated at the same instant adds nothing) and drop
    the ones older than ``HISTORY_DAYS``."""
    h = BillingChurnScoreHistory
    insert = _insert(s)
    for lo in range(0, len(rows), CHUNK):
        chunk = [{"owner_id": r["owner_id"], "scored_at": at, "score": r["score"], "model_version": version}
                 for r in rows[lo:lo + CHUNK]]
        s.execute(insert(h).on_conflict_do_nothing(index_elements=["owner_id", "scored_at"]), chunk)
    s.execute(delete(h).where(h.scored_at < at - timedelta(days=HISTORY_DAYS)))


def _upsert(s: Session, rows: list[dict[str, Any]]) -> None:
    insert = _insert(s)
    for lo in range(0, len(rows), CHUNK):
        stmt = insert(BillingChurnScore)
        stmt = stmt.on_conflict_do_update(index_elements=["owner_id"], set_={
            c: stmt.excluded[c] for c in _SCORE_COLUMNS[1:]})
        s.execute(stmt, rows[lo:lo + CHUNK])


def _copy_upsert(s: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the run into a temporary table, then one INSERT .. ON CONFLICT from it (a bulk
    upsert through COPY is many times faster than batched INSERTs at 100,000 rows)."""
    table = BillingChurnScore.__tablename__
    cols = ", ".join(_SCORE_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _SCORE_COLUMNS[1:])
    s.execute(text(f"CREATE TEMPORARY TABLE billingos_scores_in (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"))
    raw: Any = s.connection().connection.driver_connection            # psycopg 3, in this transaction
    with raw.cursor() as cursor, cursor.copy(f"COPY billingos_scores_in ({cols}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((r["owner_id"], r["score"], r["scored_at"], r["model_version"], json.dumps(r["reasons"]),
                            json.dumps(r["features"]), r["episode_since"]))
    s.execute(text(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM billingos_scores_in "
                   f"ON CONFLICT (owner_id) DO UPDATE SET {updates}"))
    s.execute(text("DROP TABLE billingos_scores_in"))


def _insert(s: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT."""
    from sqlalchemy.dialects import postgresql, sqlite
    return postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
