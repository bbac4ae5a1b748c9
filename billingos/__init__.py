"""billingos: Stripe billing inside your own Python app."""

from . import signals
from .actor import Actor
from .api_keys import ApiKey, CreatedApiKey
from .audit import AuditEvent
from .billing import Billing
from .catalog import Catalog, load_catalog
from .clock import Clock, FrozenClock, SystemClock
from .config import BillingConfig
from .customers import Customer, Page
from .dunning import DunningCase
from .entitlements import Check, Grant, Reservation
from .errors import (
    BillingClosedError,
    BillingError,
    CardDeclinedError,
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    InsufficientDataError,
    InvalidInputError,
    MigrationRequiredError,
    MissingRateError,
    NotFoundError,
    RateLimitedError,
    RateLimitUnavailableError,
    ReconcileRefusedError,
    StripeRequestError,
    StripeUnavailableError,
    UnauthenticatedError,
)
from .invoices import Invoice, InvoiceLine
from .money import Money
from .notifications import EmailMessage, LoggingMailer, Mailer, OutboxMailer
from .reconcile import ReconcileReport
from .subscriptions import Account, InvoicePreview, Subscription, SubscriptionItem
from .webhooks import Receipt, WebhookPayloadError, WebhookSignatureError

__version__ = "0.1.0"  # the installed billingos's version (pyproject.toml's)

__all__ = [
    "Account",
    "Actor",
    "ApiKey",
    "AuditEvent",
    "Billing",
    "BillingClosedError",
    "BillingConfig",
    "BillingError",
    "CardDeclinedError",
    "Catalog",
    "Check",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "CreatedApiKey",
    "Customer",
    "DunningCase",
    "EmailMessage",
    "ForbiddenError",
    "FrozenClock",
    "Grant",
    "InsufficientDataError",
    "InvalidInputError",
    "Invoice",
    "InvoiceLine",
    "InvoicePreview",
    "LoggingMailer",
    "Mailer",
    "MigrationRequiredError",
    "MissingRateError",
    "Money",
    "NotFoundError",
    "OutboxMailer",
    "Page",
    "RateLimitUnavailableError",
    "RateLimitedError",
    "Receipt",
    "ReconcileRefusedError",
    "ReconcileReport",
    "Reservation",
    "StripeRequestError",
    "StripeUnavailableError",
    "Subscription",
    "SubscriptionItem",
    "SystemClock",
    "UnauthenticatedError",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "__version__",
    "load_catalog",
    "signals",
]
