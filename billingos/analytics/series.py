"""Series: one figure per interval, from the movements report over the same boundaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy.orm import Session

from ..money import Money
from . import queries, reports
from .schemas import Movement, ratio
from .settings import AnalyticsSettings

__all__ = ["METRICS", "value_of"]

_FROM_MOVEMENT: dict[str, Callable[[Movement], Any]] = {
    "mrr": lambda m: m.mrr_end,
    "arr": lambda m: Money(m.mrr_end.amount * 12, m.mrr_end.currency),
    "new": lambda m: m.new,
    "expansion": lambda m: m.expansion,
    "contraction": lambda m: m.contraction,
    "churn": lambda m: m.churn,
    "reactivation": lambda m: m.reactivation,
    "fx": lambda m: m.fx,
    "net_new": lambda m: m.net_new,
    "customers": lambda m: m.customers_end,
    "new_customers": lambda m: m.new_customers,
    "churned_customers": lambda m: m.churned_customers,
    "customer_churn_rate": lambda m: m.customer_churn_rate,
    "gross_mrr_churn": lambda m: m.gross_mrr_churn,
    "net_mrr_churn": lambda m: m.net_mrr_churn,
    "quick_ratio": lambda m: m.quick_ratio,
    "arpa": lambda m: m.arpa,
}
METRICS = (*_FROM_MOVEMENT, "trial_conversion")


def value_of(session: Session, metric: str, bounds: Sequence[datetime], settings: AnalyticsSettings,
             currency: str) -> list[Any]:
    """``metric`` for each interval of ``bounds``."""
    if metric == "trial_conversion":    # one small query per interval (intervals, not customers)
        out = []
        for a, b in pairwise(bounds):
            ended, converted = queries.trial_outcomes(session, a, b)
            out.append(ratio(converted, ended))
        return out
    pick = _FROM_MOVEMENT[metric]
    return [pick(m) for m in reports.movements(session, bounds, settings, currency)]
