"""Pins the exported names: a change here is a change to the public API and needs a docs note."""

from __future__ import annotations

import billingos

EXPECTED = {
    "Billing", "BillingConfig", "BillingError", "CardDeclinedError", "Check", "Clock", "ConfigurationError",
    "ConflictError", "Customer", "FrozenClock", "Grant", "InvalidInputError", "Money", "NotFoundError", "Page",
    "Reservation", "StripeRequestError", "StripeUnavailableError", "SystemClock", "__version__", "signals",
    "Catalog", "load_catalog", "Invoice", "InvoiceLine", "ReconcileReport", "InvoicePreview", "Subscription",
    "SubscriptionItem", "Receipt", "WebhookPayloadError", "WebhookSignatureError", "BillingClosedError",
    "MigrationRequiredError", "ReconcileRefusedError",
    "DunningCase", "EmailMessage", "LoggingMailer", "Mailer", "OutboxMailer",
    # issue 12 (docs/api.md, docs/audit.md): API keys, the audit log's actor and entries, the API's errors
    "Actor", "ApiKey", "CreatedApiKey", "AuditEvent", "UnauthenticatedError", "ForbiddenError", "RateLimitedError",
    "MissingRateError",
    "InsufficientDataError",
    # docs/security.md (rate limits): the 503 of a rate limiter whose storage is down and set to "closed"
    "RateLimitUnavailableError",
    # docs/subscriptions.md: what the portal overview shows, read in two statements
    "Account",
}


def test_exported_names_are_pinned() -> None:
    assert set(billingos.__all__) == EXPECTED
    for name in billingos.__all__:
        assert hasattr(billingos, name), name


def test_signals_are_documented_and_past_tense() -> None:
    import inspect
    source = inspect.getsource(billingos.signals)
    for name in billingos.signals.__all__:
        if name == "namespace":
            continue
        sig = getattr(billingos.signals, name)
        assert sig.name.endswith(("-created", "-updated", "-synced", "-canceled", "-paid", "-failed",
                                  "-reached", "-granted", "-revoked", "-renewed", "-activated", "-paused",
                                  "-resumed", "-ended", "-succeeded", "-fixed", "-due", "-lettered", "-end",
                                  "-requested", "-scheduled", "-recovered", "-exhausted", "-detected",
                                  "-linked", "-erased")), sig.name
        assert f"\n{name} = " in source
        before = source.split(f"\n{name} = ")[0].rstrip().splitlines()[-1]
        assert before.startswith("#:"), f"signal {name} needs a #: comment giving sender and kwargs"


def test_errors_render_problem_documents() -> None:
    err = billingos.InvalidInputError("owner_id must be a string", param="owner_id")
    doc = err.to_problem()
    assert doc["status"] == 400 and doc["detail"] == "owner_id must be a string" and doc["param"] == "owner_id"
    assert billingos.NotFoundError("x").to_problem()["status"] == 404


def test_py_typed_ships() -> None:
    from pathlib import Path
    assert (Path(billingos.__file__).parent / "py.typed").exists()


def test_signals_reference_page_is_current() -> None:
    """docs/signals.md is rendered from the #: comments; run tools/signals_doc.py after adding a signal."""
    import subprocess
    import sys
    from pathlib import Path
    tool = Path(__file__).resolve().parents[2] / "tools" / "signals_doc.py"
    assert subprocess.run([sys.executable, str(tool), "--check"]).returncode == 0, \
        "docs/signals.md is out of date: run python tools/signals_doc.py"
