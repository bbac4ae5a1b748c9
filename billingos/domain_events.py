"""Every domain event, in one place: the facts one billingos domain publishes and others react to.

Published on the ``EventBus`` (``bus.py``) from inside the transaction that made them true. The public
blinker signals (``signals.py``) are built on them in ``announce.py``; hosts connect to the signals, not
to these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .actor import Actor
    from .api_keys.schemas import ApiKey
    from .catalog.report import CatalogSyncReport
    from .customers.schemas import Customer
    from .dunning.schemas import DunningCase
    from .entitlements.schemas import Grant
    from .insights.schemas import Insight, UpgradeSuggestion
    from .invoices.schemas import Invoice
    from .payment_methods.schemas import PaymentMethod
    from .reconcile.schemas import ReconcileReport
    from .subscriptions.schemas import Subscription
    from .webhooks.schemas import WebhookEventInfo

__all__ = [
    "ApiKeyCreated",
    "ApiKeyRevoked",
    "CancellationRequested",
    "CatalogSynced",
    "ChurnRiskDetected",
    "CustomerErased",
    "CustomerLinked",
    "CustomerSynced",
    "DunningExhausted",
    "EntitlementOverrideChanged",
    "EntitlementsChanged",
    "InsightMarked",
    "InvoiceSynced",
    "PaymentFailed",
    "PaymentMethodChanged",
    "PaymentRecovered",
    "PaymentRetryScheduled",
    "PaymentSucceeded",
    "ReconcileCompleted",
    "ReconciliationFixed",
    "ScheduledChangeMoved",
    "SubscriptionChanged",
    "SubscriptionSynced",
    "TrialWillEnd",
    "UpgradeOpportunityDetected",
    "UsageThresholdReached",
    "WebhookDeadLettered",
]


@dataclass(frozen=True)
class CustomerErased:
    """``customers.erase()`` pseudonymised the owner's personal data (``customer_id``: the Stripe customer;
    ``deleted_in_stripe``: it was deleted there too). Published in the erasing transaction (the audit log);
    it carries no personal data."""

    actor: Actor
    owner_id: str
    customer_id: str
    deleted_in_stripe: bool


@dataclass(frozen=True)
class CustomerLinked:
    """``customers.link()`` put an existing Stripe customer under ``after.owner_id`` (``previous_owner``: the
    owner it had, None when it had none). Published in the linking transaction (the audit log)."""

    actor: Actor
    previous_owner: str | None
    after: Customer


@dataclass(frozen=True)
class CustomerSynced:
    """A Stripe customer reached the database and something changed (``before`` None: it is new)."""

    before: Customer | None
    after: Customer


@dataclass(frozen=True)
class SubscriptionSynced:
    """A Stripe subscription reached the database. ``data`` is the object applied; ``stripe_events`` the
    Stripe events behind this sync, oldest first (empty on the write path and in reconcile)."""

    before: Subscription | None
    after: Subscription
    data: Mapping[str, Any]
    stripe_events: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class CancellationRequested:
    """A customer asked to cancel (now or at the period end), with the survey's answer (None: skipped)."""

    subscription: Subscription
    feedback: str | None
    comment: str | None
    at_period_end: bool


@dataclass(frozen=True)
class ScheduledChangeMoved:
    """A subscription schedule changed the subscription's pending ``scheduled_change``."""

    subscription: Subscription


@dataclass(frozen=True)
class TrialWillEnd:
    subscription: Subscription
    trial_end: datetime | None


@dataclass(frozen=True)
class InvoiceSynced:
    """A Stripe invoice reached the database; ``before_status`` None when it is new."""

    before_status: str | None
    after: Invoice


@dataclass(frozen=True)
class PaymentFailed:
    invoice: Invoice
    attempt_count: int
    next_payment_attempt: datetime | None


@dataclass(frozen=True)
class PaymentSucceeded:
    invoice: Invoice


@dataclass(frozen=True)
class EntitlementsChanged:
    """An owner's grants changed: ``granted`` feature -> source, ``revoked`` feature -> reason."""

    owner_id: str
    granted: Mapping[str, str] = field(default_factory=dict)
    revoked: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogSynced:
    """The local catalog mirror changed: by ``catalog.sync`` (with its report), or (``report`` None) by a
    Dashboard edit's webhook or a product fetched on demand."""

    report: CatalogSyncReport | None


@dataclass(frozen=True)
class UsageThresholdReached:
    owner_id: str
    meter: str
    threshold: int
    limit: int
    used: int
    period_start: datetime
    period_end: datetime


@dataclass(frozen=True)
class WebhookDeadLettered:
    event: WebhookEventInfo


@dataclass(frozen=True)
class ReconciliationFixed:
    report: ReconcileReport


@dataclass(frozen=True)
class PaymentRetryScheduled:
    """Dunning scheduled retry number ``retry`` (1-based) of a failed invoice at ``retry_at``."""

    case: DunningCase
    retry: int
    retry_at: datetime


@dataclass(frozen=True)
class PaymentRecovered:
    """An invoice in dunning was paid: the case closed as ``recovered``, no further retry runs."""

    case: DunningCase


@dataclass(frozen=True)
class DunningExhausted:
    """Dunning gave up on an invoice: ``outcome`` is ``canceled`` (the subscription was canceled) or
    ``unpaid``. The churn lane's cancellation-survey insight subscribes here."""

    case: DunningCase
    outcome: str


@dataclass(frozen=True)
class ApiKeyCreated:
    """An API key was created (its secret is never in an event)."""

    key: ApiKey
    actor: Actor


@dataclass(frozen=True)
class ApiKeyRevoked:
    before: ApiKey
    after: ApiKey
    actor: Actor


@dataclass(frozen=True)
class EntitlementOverrideChanged:
    """``entitlements.grant``/``revoke`` changed an owner's override (``after`` None: revoked), by ``actor``."""

    owner_id: str
    feature: str
    before: Grant | None
    after: Grant | None
    actor: Actor


@dataclass(frozen=True)
class ReconcileCompleted:
    """A reconcile run finished (whatever it fixed; ``ReconciliationFixed`` is the alert above a threshold)."""

    report: ReconcileReport


@dataclass(frozen=True)
class SubscriptionChanged:
    """A write of ``billing.subscriptions`` (``create``, ``change``, ``cancel``, ``resume``, ``pause``,
    ``coupon``, ``cancel_scheduled_change``, ``reactivate``) was applied, asked for by ``actor``: published
    in the transaction that applied Stripe's answer, after ``SubscriptionSynced``. ``before`` is None for
    ``create``; for ``reactivate`` it is the ended subscription, ``after`` the new one."""

    action: str
    before: Subscription | None
    after: Subscription
    actor: Actor


@dataclass(frozen=True)
class PaymentMethodChanged:
    """A write of ``billing.payment_methods`` (``attached``, ``default_set``, ``detached``) asked for by
    ``actor``: published in the transaction that applied Stripe's answer (the audit log)."""

    action: str
    method: PaymentMethod
    actor: Actor


@dataclass(frozen=True)
class ChurnRiskDetected:
    """A churn-risk episode opened: the calibrated risk crossed the threshold (insights)."""

    owner_id: str
    score: float
    threshold: float
    reasons: tuple[str, ...]
    insight_id: int
    mrr: int = 0            # at the score, in minor units (currencies not converted)


@dataclass(frozen=True)
class InsightMarked:
    """An insight was read, dismissed or acted on (``after.state``) by ``actor`` (the audit log records it)."""

    before: Insight
    after: Insight
    actor: Actor


@dataclass(frozen=True)
class UpgradeOpportunityDetected:
    """An upgrade nudge was recorded for the owner's current billing period (insights)."""

    owner_id: str
    suggestion: UpgradeSuggestion
    insight_id: int
