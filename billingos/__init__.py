"""billingos: Stripe billing inside your own Python app."""

from . import signals
from .billing import Billing
from .catalog import Catalog, load_catalog
from .clock import Clock, FrozenClock, SystemClock
from .config import BillingConfig
from .customers import Customer, Page
from .entitlements import Check, Grant, Reservation
from .errors import (
    BillingClosedError,
    BillingError,
    CardDeclinedError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    MigrationRequiredError,
    NotFoundError,
    ReconcileRefusedError,
    StripeRequestError,
    StripeUnavailableError,
)
from .invoices import Invoice, InvoiceLine
from .money import Money
from .reconcile import ReconcileReport
from .subscriptions import InvoicePreview, Subscription, SubscriptionItem
from .webhooks import Receipt, WebhookPayloadError, WebhookSignatureError

__version__ = "0.1.0"  # the installed billingos's version (pyproject.toml's)

__all__ = [
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
    "Customer",
    "FrozenClock",
    "Grant",
    "InvalidInputError",
    "Invoice",
    "InvoiceLine",
    "InvoicePreview",
    "MigrationRequiredError",
    "Money",
    "NotFoundError",
    "Page",
    "Receipt",
    "ReconcileRefusedError",
    "ReconcileReport",
    "Reservation",
    "StripeRequestError",
    "StripeUnavailableError",
    "Subscription",
    "SubscriptionItem",
    "SystemClock",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "__version__",
    "load_catalog",
    "signals",
]
