"""Entitlements: feature grants from subscriptions and overrides, checks through a cache hierarchy,
and atomic metered quotas. ``billing.entitlements`` is the service; see docs/entitlements.md."""

from .inputs import feature_key
from .schemas import Check, Grant, Reservation
from .service import EntitlementService

__all__ = ["Check", "EntitlementService", "Grant", "Reservation", "feature_key"]
