"""Insights for the admin page tests, made the way production makes them and quickly.

- Alerts: Alice's real API-call usage crosses 80% and 90% of Basic's 1,000 limit (``usage_limit`` alerts, and
  the 90% one looks for an upgrade: an ``upgrade_opportunity``); a ``payment_failed`` alert for Bob comes
  through the alerts store the way the ``PaymentFailed`` reaction records it.
- A churn model: the real ``evaluate`` (logistic regression against gradient boosting on a time split,
  calibrated) on synthetic snapshots where churn follows days without usage and failed payments, stored as a
  model version the way ``train_churn_model`` stores it (the generated history takes minutes to build). The
  world's paying customer is then scored by the real ``score_churn`` with that model.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from billingos import Billing
from billingos.insights import BillingChurnModel
from billingos.insights import model as ml
from billingos.insights.features import BUILT_IN, Snapshot


def record_alerts(billing: Billing) -> dict[str, int]:
    """Three usage/upgrade alerts for org_alice (real usage) and a payment failure for org_bob."""
    billing.usage.define_meter("api_calls", aggregation="sum")      # the admin world's catalog has no meter
    billing.usage.track("org_alice", "api_calls", 920, "insights-page-usage")
    billing.testing.drain()
    with billing.session_factory.begin() as s:
        billing.insights.store.record(s, kind="payment_failed", owner_id="org_bob", dedupe_key="payment_failed:t:1",
                                      message="Payment of 30.00 USD failed (attempt 1); next attempt 2026-01-18.",
                                      data={"invoice": "in_test", "amount_due": 3000, "currency": "usd",
                                            "attempt_count": 1})
    return {f"{a.kind}:{a.owner_id}:{a.data.get('threshold', '')}": a.id
            for a in billing.insights.alerts(limit=100).items}


def snapshots(seed: int = 3, customers: int = 120, dates: int = 10) -> list[Snapshot]:
    """Weekly snapshots; churn within 30 days is likelier with long silences and failed payments."""
    rng = random.Random(seed)
    from datetime import UTC, datetime
    start = datetime(2025, 1, 6, tzinfo=UTC)
    out = []
    for d in range(dates):
        rows, labels, owners = [], [], []
        for c in range(customers):
            silent = rng.choice([0, 1, 2, 3, 5, 10, 20, 40, 60])
            failed = rng.choice([0, 0, 0, 0, 1, 2])
            trend = rng.uniform(0.2, 1.5)
            row = {"usage_trend": trend, "days_since_usage": silent, "features_used": rng.randint(0, 4),
                   "failed_payments": failed, "days_past_due": failed * rng.randint(0, 10),
                   "downgrades": rng.choice([0, 0, 0, 1]), "tenure_days": 30 + d * 7 + c,
                   "mrr": rng.choice([10, 30, 200]), "seats": rng.randint(1, 10)}
            p = 0.03 + 0.012 * silent + 0.15 * failed + (0.1 if trend < 0.5 else 0)
            rows.append([float(row[n]) for n in BUILT_IN])
            labels.append(int(rng.random() < min(p, 0.95)))
            owners.append(f"org_{c}")
        out.append(Snapshot(start + timedelta(days=7 * d), list(BUILT_IN), owners, rows, labels))
    return out


def train(billing: Billing, *, seed: int = 3) -> int:
    """A real calibrated model and report on synthetic snapshots, stored as the newest version."""
    fitted, report = ml.evaluate(snapshots(seed), min_customers=50, min_churn_events=10, seed=seed)
    with billing.session_factory.begin() as s:
        row = BillingChurnModel(created_at=billing.now(), algorithm=fitted.algorithm, feature_names=fitted.names,
                                report=report, artifact=ml.dump(fitted), active=True)
        s.add(row)
        s.flush()
        return int(row.id)


def score(billing: Billing, runs: int = 5, every: int = 6, threshold: float = 0.3) -> Any:
    """Score every paying customer every ``every`` days, ``runs`` times (the trend): Alice stops using the
    product after her first usage, so her risk climbs and the last run opens a churn-risk episode."""
    billing.insights.configure(threshold=threshold)
    billing.testing.advance(days=1)
    run = None
    for i in range(runs):
        if i:
            billing.testing.advance(days=every)
        run = billing.insights.score_churn()
    return run
