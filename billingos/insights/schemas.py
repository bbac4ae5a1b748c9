"""What ``billing.insights`` returns: insights (alerts), churn scores, the model report, upgrade suggestions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from .models import BillingChurnScore, BillingInsight

__all__ = ["ChurnReport", "ChurnScore", "Insight", "UpgradeSuggestion"]


class Insight(BaseModel):
    """An alert or insight about a customer, with who read, dismissed or acted on it and when."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    owner_id: str
    message: str
    data: dict[str, Any]
    state: str
    created_at: datetime
    read_at: datetime | None = None
    read_by: str | None = None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    acted_at: datetime | None = None
    acted_by: str | None = None
    note: str | None = None

    @classmethod
    def from_row(cls, row: BillingInsight) -> Insight:
        return cls(id=row.id, kind=row.kind, owner_id=row.owner_id, message=row.message, data=dict(row.data or {}),
                   state=row.state, created_at=row.created_at, read_at=row.read_at, read_by=row.read_by,
                   dismissed_at=row.dismissed_at, dismissed_by=row.dismissed_by, acted_at=row.acted_at,
                   acted_by=row.acted_by, note=row.note)


class ChurnScore(BaseModel):
    """A customer's latest churn risk (0-1, calibrated) and the features that raise it, in words."""

    model_config = ConfigDict(frozen=True)

    owner_id: str
    score: float
    scored_at: datetime
    model_version: int
    reasons: list[str]
    features: dict[str, float]
    at_risk_since: datetime | None

    @classmethod
    def from_row(cls, row: BillingChurnScore) -> ChurnScore:
        return cls(owner_id=row.owner_id, score=row.score, scored_at=row.scored_at, model_version=row.model_version,
                   reasons=list(row.reasons or []), features=dict(row.features or {}), at_risk_since=row.episode_since)


class ChurnReport(BaseModel):
    """A churn model's holdout evaluation (a time split: trained on the past, tested on the future).

    ``roc_auc``, ``top_decile_lift`` (churn rate in the riskiest 10% ÷ overall), ``brier`` and ``calibration``
    are the kept model's; ``candidates`` has every compared algorithm's figures."""

    model_config = ConfigDict(frozen=True)

    version: int
    created_at: datetime
    algorithm: str
    roc_auc: float
    top_decile_lift: float
    brier: float
    calibration: list[dict[str, float]]
    candidates: dict[str, dict[str, Any]]
    features: list[str]
    feature_weights: dict[str, float]
    split_at: str
    train_rows: int
    test_rows: int
    train_churn_events: int
    test_churn_events: int
    customers: int
    churn_rate: float
    horizon_days: int
    shuffled_labels: bool = False

    def text(self) -> str:
        """The report as the command line prints it."""
        lines = [f"churn model v{self.version} ({self.algorithm}), trained {self.created_at:%Y-%m-%d %H:%M} UTC",
                 f"time split at {self.split_at[:10]}: {self.train_rows} training rows "
                 f"({self.train_churn_events} churned), {self.test_rows} holdout rows ({self.test_churn_events} "
                 f"churned), {self.customers} customers, label: churned within {self.horizon_days} days",
                 "", f"{'algorithm':<22}{'ROC AUC':>9}{'lift@10%':>10}{'Brier':>8}"]
        for name, r in self.candidates.items():
            mark = " *" if name == self.algorithm else ""
            lines.append(f"{name:<22}{r['roc_auc']:>9.3f}{r['top_decile_lift']:>10.2f}{r['brier']:>8.4f}{mark}")
        lines += ["", f"holdout ROC AUC {self.roc_auc:.3f}   top-decile lift {self.top_decile_lift:.2f}   "
                      f"Brier {self.brier:.4f}", "", "calibration (predicted vs observed churn):"]
        for b in self.calibration:
            lines.append(f"  {b['low']:.1f}-{b['high']:.1f}  n={int(b['count']):<6} predicted {b['predicted']:.3f}  "
                         f"observed {b['observed']:.3f}")
        lines += ["", "feature weights (mean change in risk when set to its median):"]
        for name, w in sorted(self.feature_weights.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {name:<20} {w:.4f}")
        return "\n".join(lines)


@dataclass(frozen=True)
class UpgradeSuggestion:
    """Why and to what a customer should upgrade, with the money from ``billingos.pricing``.

    ``current_amount`` is what the current plan will cost this period at the projected usage, ``suggested_amount``
    what the suggested plan would; both in minor units of ``currency``."""

    owner_id: str
    reasons: tuple[str, ...]                # "usage_90", "seats_maxed", "cheaper_plan"
    current_plan: str | None                # product key (or id)
    suggested_plan: str
    suggested_price: str                    # the licensed price's lookup key (or id) to change to
    currency: str
    current_amount: int
    suggested_amount: int
    projected_usage: dict[str, int]
    period_start: datetime
    period_end: datetime

    @property
    def saving(self) -> int:
        return self.current_amount - self.suggested_amount

    def as_data(self) -> dict[str, Any]:
        return {"reasons": list(self.reasons), "current_plan": self.current_plan, "suggested_plan": self.suggested_plan,
                "suggested_price": self.suggested_price, "currency": self.currency,
                "current_amount": self.current_amount, "suggested_amount": self.suggested_amount,
                "projected_usage": dict(self.projected_usage), "period_start": self.period_start.isoformat(),
                "period_end": self.period_end.isoformat()}
