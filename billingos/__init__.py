"""billingos: Stripe billing inside your own Python app."""

from . import signals
from .billing import Billing
from .clock import Clock, FrozenClock, SystemClock
from .config import BillingConfig
from .customers import Customer, Page
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
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "Customer",
    "FrozenClock",
    "InvalidInputError",
    "Money",
    "NotFoundError",
    "Page",
    "StripeRequestError",
    "StripeUnavailableError",
    "SystemClock",
    "__version__",
    "signals",
]
