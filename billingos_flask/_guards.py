"""``requires_feature``: the shape of flask-login's ``login_required``, gating a view on a feature."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, request

from billingos.entitlements import feature_key

from ._extension import _current_ext

__all__ = ["EXEMPT_METHODS", "requires_feature"]

F = TypeVar("F", bound=Callable[..., Any])

#: Like flask-login: CORS preflight requests are never gated.
EXEMPT_METHODS = {"OPTIONS"}


def requires_feature(feature: str) -> Callable[[F], F]:
    """Decorate a view so it only runs when the current owner has ``feature``::

        @app.get("/export")
        @requires_feature("export")
        def export(): ...

    The owner comes from the extension's ``customer_loader``; a denied request gets the extension's
    ``feature_denied`` answer (401 problem document when nobody is logged in, 403 otherwise), which
    ``@ext.feature_denied_handler`` overrides. The check never raises: when Redis or the database is
    down it follows the feature's failure policy."""
    key = feature_key(feature, "feature")

    def decorator(func: F) -> F:
        @wraps(func)
        def decorated_view(*args: Any, **kwargs: Any) -> Any:
            if request.method not in EXEMPT_METHODS:
                ext = _current_ext()
                owner = ext.load_owner_id()
                if owner is None or not ext.billing.has_feature(owner, key):
                    return ext.feature_denied(key, owner)
            return current_app.ensure_sync(func)(*args, **kwargs)

        return cast(F, decorated_view)

    return decorator
