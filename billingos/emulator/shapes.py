"""Response shaping shared by every route and event: fields Stripe leaves out rather than sending
``null``. Stored objects keep every key (the engine reads them); only what leaves the emulator is shaped.

The fields are those Stripe's OpenAPI spec marks optional and not nullable for each object (an absent key,
never ``null``), for the objects this emulator makes.
"""

from __future__ import annotations

from typing import Any

OMITTED_WHEN_EMPTY: dict[str, frozenset[str]] = {
    "charge": frozenset({"authorization_code", "level3", "presentment_details", "radar_options", "transfer"}),
    "coupon": frozenset({"applies_to", "currency_options"}),
    "customer": frozenset({"business_name", "individual_name", "invoice_credit_balance", "next_invoice_sequence",
                           "sources", "subscriptions", "tax", "tax_ids"}),
    "event": frozenset({"account", "context"}),
    "invoice": frozenset({"amount_paid_off_stripe", "auto_advance", "payments", "threshold_reason"}),
    "invoiceitem": frozenset({"net_amount", "proration_details"}),
    "payment_intent": frozenset({"allowed_payment_method_types", "amount_details", "hooks", "payment_details",
                                 "presentment_details"}),
    "plan": frozenset({"tiers"}),
    "price": frozenset({"currency_options", "tiers"}),
    "subscription": frozenset({"presentment_details"}),
    "subscription_item": frozenset({"billed_until", "quantity"}),
    "webhook_endpoint": frozenset({"secret"}),
}


# Keys the emulator keeps on stored objects for its own bookkeeping that Stripe no longer shows
# (``invoice.subscription`` moved to ``invoice.parent.subscription_details`` in 2025-03-31.basil).
HIDDEN: dict[str, frozenset[str]] = {"invoice": frozenset({"subscription"})}


def shape(node: Any) -> Any:
    """Drop, in place and at any depth, the keys Stripe omits when they are empty (``None``)."""
    if isinstance(node, dict):
        kind = node.get("object")
        if isinstance(kind, str):
            for key in [k for k in OMITTED_WHEN_EMPTY.get(kind, ()) if k in node and node[k] is None]:
                del node[key]
            for key in HIDDEN.get(kind, ()):
                node.pop(key, None)
        for value in node.values():
            if isinstance(value, dict | list):
                shape(value)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, dict | list):
                shape(value)
    return node
