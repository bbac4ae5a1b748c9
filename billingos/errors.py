"""Typed errors. Every bad input raises a BillingError subclass whose message says what to do."""

from __future__ import annotations

from typing import Any

__all__ = [
    "BillingClosedError",
    "BillingError",
    "CardDeclinedError",
    "ConfigurationError",
    "ConflictError",
    "ForbiddenError",
    "InsufficientDataError",
    "InvalidInputError",
    "MigrationRequiredError",
    "MissingRateError",
    "NotFoundError",
    "RateLimitUnavailableError",
    "RateLimitedError",
    "ReconcileRefusedError",
    "StripeRequestError",
    "StripeUnavailableError",
    "UnauthenticatedError",
]


class BillingError(Exception):
    """Base class of every error billingos raises on purpose."""

    status: int = 400
    code: str = "billing_error"

    def __init__(self, message: str, *, param: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.details = details

    def to_problem(self) -> dict[str, Any]:
        """An RFC 9457 problem document, for JSON APIs."""
        doc: dict[str, Any] = {
            "type": f"https://billingos.dev/errors/{self.code}",
            "title": type(self).__name__,
            "status": self.status,
            "detail": self.message,
        }
        if self.param:
            doc["param"] = self.param
        return doc


class ConfigurationError(BillingError):
    """The BillingConfig (or the way billingos was wired in) is wrong."""

    code = "configuration_error"
    status = 500


class BillingClosedError(ConfigurationError):
    """This ``Billing`` was closed (``billing.close()``): it no longer reaches the database, Redis or
    Stripe. A 503 because it happens while a process shuts down; build a new ``Billing`` to go on."""

    code = "billing_closed"
    status = 503


class MigrationRequiredError(ConfigurationError):
    """billingos's tables are missing or older than this version: run ``billing.migrate()`` or
    ``billingos db upgrade``. A 503: nothing works until the migration has run."""

    code = "migration_required"
    status = 503


class ReconcileRefusedError(BillingError):
    """Reconcile found more local objects gone in Stripe than it may remove in one run (the config's
    ``reconcile_max_removal`` share): usually the wrong Stripe account or an empty emulator. Nothing was
    written. ``details`` holds the counts; run with ``force=True`` (``--force``) if Stripe is right."""

    code = "reconcile_refused"
    status = 409


class InvalidInputError(BillingError, ValueError):
    """An argument is malformed, out of range or of the wrong type. Nothing was written."""

    code = "invalid_input"


class NotFoundError(BillingError, LookupError):
    """The object asked for does not exist (or does not belong to the caller)."""

    code = "not_found"
    status = 404


class UnauthenticatedError(BillingError):
    """No valid credentials: a missing, malformed, unknown or revoked API key (the message never says which
    part was wrong beyond the header's shape, and never repeats the key)."""

    code = "unauthenticated"
    status = 401


class ForbiddenError(BillingError):
    """Valid credentials that lack the permission asked for (e.g. an API key without the scope)."""

    code = "forbidden"
    status = 403


class RateLimitedError(BillingError):
    """Too many requests for this key: ``retry_after`` seconds until the window lets one through."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, limit: int, remaining: int = 0, reset: int = 0) -> None:
        super().__init__(message)
        self.retry_after, self.limit, self.remaining, self.reset = retry_after, limit, remaining, reset


class RateLimitUnavailableError(RateLimitedError):
    """The rate limiter's storage (Redis) is down and ``rate_limit_on_storage_error`` is ``"closed"``: the
    request is refused with a 503 rather than let through uncounted; ``retry_after`` seconds until it is
    tried again."""

    code = "rate_limit_unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after, limit=0)


class ConflictError(BillingError):
    """The request conflicts with the current state (e.g. an owner that already has a customer)."""

    code = "conflict"
    status = 409


class InsufficientDataError(BillingError):
    """Too little history for a trustworthy answer (e.g. too few customers or churn events to train a churn
    model); billingos says so rather than guess. ``details`` has ``have`` and ``need``."""

    code = "insufficient_data"
    status = 422


class StripeRequestError(BillingError):
    """Stripe rejected the request. ``stripe_code`` and ``stripe_message`` carry Stripe's own words."""

    code = "stripe_error"
    status = 502

    def __init__(self, message: str, *, stripe_code: str | None = None, http_status: int | None = None,
                 param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.stripe_code = stripe_code
        self.http_status = http_status


class CardDeclinedError(StripeRequestError):
    """The card was declined. ``decline_code`` says why (e.g. ``generic_decline``)."""

    code = "card_declined"
    status = 402

    def __init__(self, message: str, *, decline_code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.decline_code = decline_code


class StripeUnavailableError(StripeRequestError):
    """Stripe could not be reached (network error, 5xx). Nothing local was written; retry later."""

    code = "stripe_unavailable"
    status = 503


class MissingRateError(BillingError, LookupError):
    """A figure needs converting from a currency the host's rate table has no rate for on that date."""

    status = 409
    code = "missing_rate"
