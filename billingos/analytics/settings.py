"""The choices ANALYTICS.md leaves open, as settings (``Billing(analytics={...})``), with their defaults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnalyticsSettings"]


class AnalyticsSettings(BaseModel):
    """How billingos counts revenue. Every field is a definition a founder might choose differently.

    ``cancel_counts_at`` and ``count_past_due`` shape the ledger when it is written: change them, then
    rebuild with ``billingos analytics backfill --rebuild``. The others apply when a figure is read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: "period_end" (default): a subscription set to cancel at period end keeps its MRR until it ends.
    #: "scheduled": its MRR churns when the cancellation is scheduled.
    cancel_counts_at: Literal["period_end", "scheduled"] = "period_end"
    #: ``past_due`` counts while Stripe retries (the dunning window is open); Stripe then moves it to
    #: ``canceled`` or ``unpaid``, which count nothing. False counts past_due as nothing at once.
    count_past_due: bool = True
    #: "net" (default): a customer who signs up and churns inside one interval counts in neither new nor
    #: churn (movements compare each customer's MRR at the interval's two ends). "gross": such a customer
    #: counts in both, at its peak MRR inside the interval.
    same_interval_signup_churn: Literal["net", "gross"] = "net"
    #: LTV divides ARPA by the average monthly customer churn over this many whole months before the
    #: current one.
    ltv_months: int = Field(default=6, ge=1, le=36)
    #: Failed-payment recovery counts only invoices whose dunning window (days after the first failure)
    #: has closed.
    dunning_window_days: int = Field(default=10, ge=1, le=90)
    #: The currency every figure is reported in (defaults to the Billing's ``default_currency``).
    reporting_currency: str | None = None
