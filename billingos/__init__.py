"""billingos: Stripe billing inside your own Python app."""

from . import signals
from .billing import Billing
from .clock import Clock, FrozenClock, SystemClock
from .config import BillingConfig
from .customers import Customer, Page
from .entitlements import Check, Grant, Reservation
from .errors import (
    BillingError,
    CardDeclinedError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StripeRequestError,
    StripeUnavailableError,
)
from .money import Money

__version__ = "0.1.0"

__all__ = [
    "Billing",
    "BillingConfig",
    "BillingError",
    "CardDeclinedError",
    "Check",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "Customer",
    "FrozenClock",
    "Grant",
    "InvalidInputError",
    "Money",
    "NotFoundError",
    "Page",
    "Reservation",
    "StripeRequestError",
    "StripeUnavailableError",
    "SystemClock",
    "__version__",
    "signals",
]
