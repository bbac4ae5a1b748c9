"""Revenue analytics: the subscription ledger (``billing_subscription_ledger``) and ``billing.analytics``."""

from .models import BillingFxRate, BillingLedgerCheckpoint, BillingLedgerEntry
from .settings import AnalyticsSettings

__all__ = ["AnalyticsSettings", "BillingFxRate", "BillingLedgerCheckpoint", "BillingLedgerEntry"]
