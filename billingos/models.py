"""Every billingos model, imported so ``metadata`` knows all tables (for migrations and create_all)."""

from __future__ import annotations

from .analytics.models import BillingFxRate, BillingLedgerCheckpoint, BillingLedgerEntry
from .api_keys.models import BillingApiKey
from .audit.models import BillingAuditEvent
from .catalog.models import *  # noqa: F403
from .customers.models import BillingCustomer
from .db import Base, metadata
from .dunning.models import BillingDunningCase
from .entitlements.models import BillingEntitlement, BillingEntitlementCounter, BillingEntitlementUsage
from .freshness import BillingLock
from .insights.models import BillingChurnModel, BillingChurnScore, BillingChurnScoreHistory, BillingInsight
from .intents import BillingIntent
from .invoices.models import BillingInvoice
from .jobs.models import BillingJob
from .payment_methods.models import BillingPaymentMethod
from .reconcile.models import BillingReconcileRun
from .subscriptions.models import (
    BillingCancellationFeedback,
    BillingSubscription,
    BillingSubscriptionItem,
)
from .usage.models import (
    BillingUsageAlert,
    BillingUsageEvent,
    BillingUsageKey,
    BillingUsageSummary,
    BillingUsageThreshold,
)
from .webhooks.models import BillingWebhookEvent

__all__ = [
    "Base",
    "BillingApiKey",
    "BillingAuditEvent",
    "BillingCancellationFeedback",
    "BillingChurnModel",
    "BillingChurnScore",
    "BillingChurnScoreHistory",
    "BillingCustomer",
    "BillingDunningCase",
    "BillingEntitlement",
    "BillingEntitlementCounter",
    "BillingEntitlementUsage",
    "BillingFxRate",
    "BillingInsight",
    "BillingIntent",
    "BillingInvoice",
    "BillingJob",
    "BillingLedgerCheckpoint",
    "BillingLedgerEntry",
    "BillingLock",
    "BillingPaymentMethod",
    "BillingReconcileRun",
    "BillingSubscription",
    "BillingSubscriptionItem",
    "BillingUsageAlert",
    "BillingUsageEvent",
    "BillingUsageKey",
    "BillingUsageSummary",
    "BillingUsageThreshold",
    "BillingWebhookEvent",
    "metadata",
]
