"""``billing.insights``: churn prediction, upgrade nudges and the alerts store (see docs/insights.md)."""

from .models import BillingChurnModel, BillingChurnScore, BillingInsight
from .schemas import ChurnReport, ChurnScore, Insight, UpgradeSuggestion
from .scoring import ScoreRun
from .service import InsightService

__all__ = ["BillingChurnModel", "BillingChurnScore", "BillingInsight", "ChurnReport", "ChurnScore", "Insight",
           "InsightService", "ScoreRun", "UpgradeSuggestion"]
