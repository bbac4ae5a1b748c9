"""BillingError -> RFC 9457 problem document, for the JSON routes this adapter mounts."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from billingos import BillingError, RateLimitedError

PROBLEM_TYPE = "application/problem+json"


def problem_response(err: BillingError) -> Response:
    """A ``BillingError`` as an RFC 9457 ``application/problem+json`` response with the error's status
    (and Retry-After when a rate limit refused it)."""
    if not isinstance(err, RateLimitedError):
        return _problem(err.to_problem(), err.status)
    response = _problem({**err.to_problem(), "retry_after": err.retry_after}, err.status)
    response.headers["Retry-After"] = str(err.retry_after)
    return response


def unauthenticated() -> Response:
    """No owner id: the host's login is missing, which is not a billing error but still a problem."""
    return _problem({"type": "https://billingos.dev/errors/unauthenticated", "title": "Unauthenticated",
                     "status": 401, "detail": "Log in first: the customer_loader returned no owner id."}, 401)


def feature_not_available(feature: str) -> Response:
    """403: the owner is logged in but their plan does not include the feature."""
    return _problem({"type": "https://billingos.dev/errors/feature_not_available", "title": "FeatureNotAvailable",
                     "status": 403, "detail": f"Your plan does not include {feature!r}. Upgrade to use it.",
                     "feature": feature}, 403)


def _problem(doc: dict[str, Any], status: int) -> Response:
    response = jsonify(doc)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    return response
