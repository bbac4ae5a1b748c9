"""Stripe's error objects, raised by emulator handlers and rendered with Stripe's status codes."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    def __init__(self, message: str, *, status: int = 400, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, decline_code: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.type = message, status, type
        self.param, self.code, self.decline_code = param, code, decline_code
        self.extra = extra or {}

    def body(self, request_log_url: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.param is not None:
            err["param"] = self.param
        if self.code is not None:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.decline_code is not None:
            err["decline_code"] = self.decline_code
        if request_log_url:
            err["request_log_url"] = request_log_url
        err.update(self.extra)
        return {"error": err}


def missing(kind: str, id: str, param: str = "id") -> StripeError:
    """An unknown id: 404 when it is the request's own object (the URL's ``id``), 400 when a parameter names
    it, as Stripe answers both."""
    return StripeError(f"No such {kind}: '{id}'", status=404 if param == "id" else 400, param=param,
                       code="resource_missing")


def invalid(message: str, param: str | None = None, code: str = "parameter_invalid") -> StripeError:
    return StripeError(message, param=param, code=code)
