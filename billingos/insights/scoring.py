"""Scoring every paying customer: one feature read, one batch of predictions, upserts in chunks, and a
``churn_risk`` insight plus ``ChurnRiskDetected`` for each risk episode that opens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..domain_events import ChurnRiskDetected
from .features import Snapshot
from .model import Fitted, describe, explain, sklearn_modules
from .models import BillingChurnScore, BillingChurnScoreHistory

__all__ = ["ScoreRun", "score_rows"]

CHUNK = 5000
#: How long every run's scores are kept for the trend on the admin customer page.
HISTORY_DAYS = 180


@dataclass(frozen=True)
class ScoreRun:
    """What a scoring run did: ``scored`` customers, ``at_risk`` above the threshold, ``detected`` newly."""

    at: datetime
    model_version: int
    scored: int
    at_risk: int
    detected: tuple[str, ...]


def score_rows(snap: Snapshot, fitted: Fitted) -> tuple[list[float], list[list[str]]]:
    np = sklearn_modules()
    if not snap.rows:
        return [], []
    x = np.asarray(snap.rows, dtype=float)
    risk, reasons = explain(fitted, x)
    col = {n: j for j, n in enumerate(snap.names)}
    words = [[describe(name, float(x[i, col[name]])) for name, _ in why] for i, why in enumerate(reasons)]
    return [float(r) for r in risk], words


def store(s: Session, snap: Snapshot, risk: Sequence[float], words: Sequence[list[str]], *, version: int,
          threshold: float, record: Callable[[Session, str, float, list[str]], int | None], publish: Any) -> ScoreRun:
    """Upsert each score; open or close each owner's risk episode; record and announce the new episodes."""
    t = BillingChurnScore
    episodes = dict(s.execute(select(t.owner_id, t.episode_since)).all())
    dialect = s.get_bind().dialect.name
    from sqlalchemy.dialects import postgresql, sqlite
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
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
    for lo in range(0, len(rows), CHUNK):
        stmt = insert(t)
        stmt = stmt.on_conflict_do_update(index_elements=["owner_id"], set_={
            c: stmt.excluded[c] for c in ("score", "scored_at", "model_version", "reasons", "features",
                                          "episode_since")})
        s.execute(stmt, rows[lo:lo + CHUNK])
    _keep_history(s, insert, rows, version, snap.at)
    for i in detected:
        owner = snap.owners[i]
        insight = record(s, owner, risk[i], words[i])
        if insight is not None:
            mrr = round(snap.rows[i][snap.names.index("mrr")] * 100)
            publish(s, ChurnRiskDetected(owner, risk[i], threshold, tuple(words[i]), insight, mrr))
    return ScoreRun(snap.at, version, len(rows), at_risk, tuple(snap.owners[i] for i in detected))


def _keep_history(s: Session, insert: Any, rows: Sequence[dict[str, Any]], version: int, at: datetime) -> None:
    """Append this run's scores to the history (a run repeated at the same instant adds nothing) and drop
    the ones older than ``HISTORY_DAYS``."""
    h = BillingChurnScoreHistory
    for lo in range(0, len(rows), CHUNK):
        chunk = [{"owner_id": r["owner_id"], "scored_at": at, "score": r["score"], "model_version": version}
                 for r in rows[lo:lo + CHUNK]]
        s.execute(insert(h).on_conflict_do_nothing(index_elements=["owner_id", "scored_at"]), chunk)
    s.execute(delete(h).where(h.scored_at < at - timedelta(days=HISTORY_DAYS)))
