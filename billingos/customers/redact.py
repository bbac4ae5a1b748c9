"""Pure functions that take a person out of stored values: ``customers.erase()`` and the customer mirror use them.

Two passes over a JSON value. Stripe's personal fields go by shape: a customer object's email, name, phone,
address and shipping; an invoice's ``customer_*`` copies; a payment method's ``billing_details``. Then any
string holding one of the person's known strings (the email, the name...) is replaced wherever it is, so a
free-text field that quoted them (an override reason, a note, a webhook's ``previous_attributes``) is caught.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

REDACTED = "[erased]"
#: A customer object's personal fields (Stripe's names); ``metadata`` is the host's and keeps the owner key.
CUSTOMER_FIELDS = ("email", "name", "phone", "address", "shipping", "description")
#: An invoice's copies of the customer, frozen when it was finalised.
INVOICE_FIELDS = ("customer_email", "customer_name", "customer_phone", "customer_address", "customer_shipping")
#: A payment method's ``billing_details`` (brand, last4 and expiry are elsewhere and stay).
BILLING_DETAILS = ("email", "name", "phone", "address")
_MIN_NEEDLE = 3     # shorter strings ("Al") would blank unrelated text


def pseudonym(customer_id: str) -> str:
    """The address that stands in for an erased email where a column cannot be empty: derived from the Stripe
    customer id (stable across repeated erasures), never from the email (a hash of it could be reversed by
    guessing)."""
    return f"erased-{hashlib.sha256(customer_id.encode()).hexdigest()[:16]}@invalid"


def needles(values: Iterable[Any]) -> tuple[str, ...]:
    """The person's strings to look for, lower-cased, longest first (an email before the name inside it)."""
    found = set()
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= _MIN_NEEDLE:
            found.add(value.strip().lower())
        elif isinstance(value, dict):
            found.update(needles(value.values()))
    return tuple(sorted(found, key=len, reverse=True))


def personal_strings(obj: Any) -> list[Any]:
    """The personal values a stored Stripe object holds (a customer, an invoice, a payment method)."""
    if not isinstance(obj, dict):
        return []
    out: list[Any] = []
    if obj.get("object") == "customer":
        out += [obj.get(k) for k in CUSTOMER_FIELDS]
    out += [obj.get(k) for k in INVOICE_FIELDS]
    details = obj.get("billing_details")
    if isinstance(details, dict):
        out += [details.get(k) for k in BILLING_DETAILS]
    return out


def redact(value: Any, found: tuple[str, ...], depth: int = 0) -> Any:
    """``value`` without the person: Stripe's personal fields emptied by shape, any string holding one of
    ``found`` (see ``needles``) replaced by ``REDACTED``. Returns a new value; amounts and ids are untouched."""
    if depth > 32:
        return value
    if isinstance(value, dict):
        out = {k: redact(v, found, depth + 1) for k, v in value.items()}
        if out.get("object") == "customer":
            out.update({k: None for k in CUSTOMER_FIELDS if k in out})
        out.update({k: None for k in INVOICE_FIELDS if k in out})
        if isinstance(out.get("billing_details"), dict):
            out["billing_details"] = {**out["billing_details"], **{k: None for k in BILLING_DETAILS}}
        return out
    if isinstance(value, list):
        return [redact(v, found, depth + 1) for v in value]
    if isinstance(value, str):
        return redact_text(value, found)
    return value


def redact_text(text: str | None, found: tuple[str, ...]) -> str | None:
    if text is None:
        return None
    lowered = text.lower()
    return REDACTED if any(n in lowered for n in found) else text
