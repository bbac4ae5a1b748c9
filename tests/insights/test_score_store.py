"""Storing a scoring run: the bulk upsert (COPY through a temporary table on PostgreSQL, batched INSERTs on
SQLite), episodes opened and closed, and one insight per new episode recorded in one batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from billingos import Billing
from billingos.insights.features import BUILT_IN, Snapshot
from billingos.insights.models import BillingChurnScore, BillingInsight
from billingos.insights.scoring import store

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)


def _snap(at: datetime, owners: list[str]) -> Snapshot:
    rows = [[float(i), 2.5, 1.0, 0.0, 0.0, 0.0, 30.0 + i, 10.0 * (i + 1), 1.0] for i in range(len(owners))]
    return Snapshot(at, list(BUILT_IN), owners, rows)


def _run(billing: Billing, at: datetime, owners: list[str], risk: list[float], threshold: float) -> Any:
    published: list[Any] = []
    words = [[f"reason of {o}"] if r >= threshold else [] for o, r in zip(owners, risk, strict=True)]
    with billing._ctx.transaction() as s:          # the service's own transaction, as score_churn uses
        run = store(s, _snap(at, owners), risk, words, version=1, threshold=threshold,
                    record=billing.insights._record_risk, publish=lambda _s, event: published.append(event))
    return run, published


def test_a_run_is_stored_then_updated_in_place_and_new_episodes_recorded_once(billing: Billing) -> None:
    owners = [f"org_{i:04d}" for i in range(1200)]            # more than one insert batch
    risk = [0.9 if i % 100 == 0 else 0.01 * (i % 50) for i in range(1200)]
    run, published = _run(billing, AT, owners, risk, threshold=0.7)
    assert run.scored == 1200 and run.at_risk == 12 and len(run.detected) == 12
    riskiest = [f"org_{i:04d}" for i in range(0, 1200, 100)]
    assert sorted(e.owner_id for e in published) == sorted(run.detected) == riskiest
    with billing.session_factory() as s:
        stored = {r.owner_id: r for r in s.scalars(select(BillingChurnScore))}
        insights = list(s.scalars(select(BillingInsight).where(BillingInsight.kind == "churn_risk")))
    assert len(stored) == 1200
    first = stored["org_0100"]
    assert (first.score, first.reasons, first.episode_since, first.features["mrr"]) == (0.9, ["reason of org_0100"],
                                                                                        AT, 1010.0)
    assert stored["org_0007"].reasons == [] and stored["org_0007"].episode_since is None
    assert stored["org_0007"].score == 0.07
    assert sorted(i.owner_id for i in insights) == sorted(run.detected)
    assert all(e.insight_id in {i.id for i in insights} for e in published)
    assert insights[0].message.startswith("Churn risk 90%: reason of")

    later = AT + timedelta(days=1)                  # org_0000 stays at risk, org_0100 drops, org_0007 rises
    risk2 = list(risk)
    risk2[100], risk2[7] = 0.2, 0.95
    run2, published2 = _run(billing, later, owners, risk2, threshold=0.7)
    assert run2.detected == ("org_0007",) and [e.owner_id for e in published2] == ["org_0007"]
    with billing.session_factory() as s:
        stored = {r.owner_id: r for r in s.scalars(select(BillingChurnScore))}
    assert len(stored) == 1200 and all(r.scored_at == later for r in stored.values())
    assert stored["org_0000"].episode_since == AT                 # still the episode that opened yesterday
    assert stored["org_0100"].episode_since is None and stored["org_0100"].score == 0.2
    assert stored["org_0007"].episode_since == later and stored["org_0007"].reasons == ["reason of org_0007"]
