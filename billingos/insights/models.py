"""Insight tables: the alerts store, the latest churn score per customer and the trained churn models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONType, UTCDateTime
from ..db import BigID as ID

__all__ = ["KINDS", "STATES", "BillingChurnModel", "BillingChurnScore", "BillingChurnScoreHistory", "BillingInsight"]

#: What an insight is about.
KINDS = ("churn_risk", "payment_failed", "usage_limit", "upgrade_opportunity", "cancellation_survey")
#: new -> read -> dismissed | acted (each step records who and when).
STATES = ("new", "read", "dismissed", "acted")


class BillingInsight(Base):
    """One alert or insight about a customer. ``dedupe_key`` is unique, so the fact that makes it (a churn-risk
    episode, a failed attempt, a period's threshold) records it once however often it is seen."""

    __tablename__ = "billing_insights"
    __table_args__ = (Index("ix_billing_insights_kind_state", "kind", "state", "id"),
                      Index("ix_billing_insights_owner", "owner_id", "id"),
                      Index("ix_billing_insights_state", "state", "kind"))     # the admin bell's COUNT

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str] = mapped_column(String(255))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_by: Mapped[str | None] = mapped_column(String(255))
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed_by: Mapped[str | None] = mapped_column(String(255))
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acted_by: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)


class BillingChurnScore(Base):
    """The latest churn score of a customer, with its reasons in words. ``episode_since`` is set while the
    risk stays above the threshold: ``churn_risk_detected`` fires when an episode opens, not every day."""

    __tablename__ = "billing_churn_scores"

    owner_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    model_version: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSONType)
    features: Mapped[dict[str, float]] = mapped_column(JSONType)
    episode_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BillingChurnScoreHistory(Base):
    """Every score of every scoring run (one row per customer and run): the trend on the admin customer page.
    Rows older than ``HISTORY_DAYS`` are deleted by the scoring run."""

    __tablename__ = "billing_churn_score_history"

    owner_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[int] = mapped_column(Integer)


class BillingChurnModel(Base):
    """A trained churn model: its evaluation report and the fitted estimator (pickled by scikit-learn's own
    joblib). The newest row with ``active`` is the one scoring uses; older versions stay for comparison."""

    __tablename__ = "billing_churn_models"

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    algorithm: Mapped[str] = mapped_column(String(64))
    feature_names: Mapped[list[str]] = mapped_column(JSONType)
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
