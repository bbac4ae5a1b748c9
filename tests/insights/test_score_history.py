"""Every scoring run's scores are kept (the trend on the admin customer page) for 180 days, once per run;
the stored model reports are listed newest first."""

from __future__ import annotations

from datetime import timedelta

from billingos import Billing
from billingos.insights.models import BillingChurnScoreHistory
from billingos.insights.scoring import HISTORY_DAYS
from tests.admin import insights_data

from .conftest import subscribe


def test_scores_are_kept_per_run_and_pruned_after_180_days(shop: Billing) -> None:
    subscribe(shop, "org_h", "basic")
    subscribe(shop, "org_i", "pro")
    assert shop.insights.reports() == [] and shop.insights.risk_history("org_h") == []
    first = insights_data.train(shop, seed=3)
    second = insights_data.train(shop, seed=4)
    assert [r.version for r in shop.insights.reports()] == [second, first]
    assert [r.version for r in shop.insights.reports(limit=1)] == [second]
    assert shop.insights.reports()[1].roc_auc == shop.insights.report(first).roc_auc

    old = shop.now() - timedelta(days=HISTORY_DAYS + 1)
    with shop.session_factory.begin() as s:
        s.add(BillingChurnScoreHistory(owner_id="org_h", scored_at=old, score=0.5, model_version=first))
    runs = []
    for _ in range(3):
        shop.testing.advance(hours=1)
        runs.append(shop.insights.score_churn())
    shop.insights.score_churn()                      # the same instant again: no second row
    history = shop.insights.risk_history("org_h")
    times = [at for at, _ in history]
    assert times[-3:] == [r.at for r in runs]        # oldest first (the daily job may have scored once before)
    assert times == sorted(set(times)) and min(times) > old               # one row per run; the old one is gone
    assert history[-1][1] == shop.insights.risk("org_h").score
    assert all(0 <= s <= 1 for _, s in history)
    assert len(shop.insights.risk_history("org_i")) == len(history)
    assert shop.insights.risk_history("org_h", limit=2) == history[-2:]
    assert shop.insights.risk_history("org_nobody") == []
