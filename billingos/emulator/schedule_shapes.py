"""Subscription schedules as Stripe serialises them: the schedule object, its phases and their items.
Builders only; nothing here reads params or writes to the store."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .store import new_id

if TYPE_CHECKING:
    from .app import Emulator


def blank_schedule(cust: dict[str, Any], at: int, end_behavior: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": new_id("sub_sched", 24),
        "object": "subscription_schedule",
        "application": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "canceled_at": None,
        "completed_at": None,
        "created": at,
        "current_phase": None,
        "customer": cust["id"],
        "customer_account": None,
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {"account_tax_ids": None, "custom_fields": None, "days_until_due": None,
                                 "description": None, "footer": None, "issuer": {"type": "self"}},
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "end_behavior": end_behavior,
        "livemode": False,
        "metadata": metadata,
        "pause_schedules": [],
        "phases": [],
        "released_at": None,
        "released_subscription": None,
        "status": "not_started",
        "subscription": None,
        "test_clock": cust.get("test_clock"),
    }


def phase_item(em: Emulator, price: dict[str, Any], quantity: int | None, metadata: dict[str, str],
               tax_rates: list[str]) -> dict[str, Any]:
    metered = (price.get("recurring") or {}).get("usage_type") == "metered"
    return {"billing_thresholds": None, "discounts": [], "metadata": dict(metadata), "plan": price["id"],
            "price": price["id"], "quantity": None if metered else (1 if quantity is None else quantity),
            "tax_rates": [copy.deepcopy(em.store.objects[r]) for r in tax_rates]}


def phase(items: list[dict[str, Any]], window: tuple[int, int], currency: str, proration_behavior: str,
          metadata: dict[str, str]) -> dict[str, Any]:
    return {"add_invoice_items": [], "application_fee_percent": None, "billing_cycle_anchor": None,
            "billing_thresholds": None, "collection_method": None, "currency": currency,
            "default_payment_method": None, "default_tax_rates": [], "description": None, "discounts": [],
            "end_date": window[1], "invoice_settings": None, "items": items, "metadata": metadata,
            "on_behalf_of": None, "proration_behavior": proration_behavior, "start_date": window[0],
            "transfer_data": None, "trial_end": None}


def current_phase(window: tuple[int, int]) -> dict[str, int]:
    """``schedule.current_phase`` for a phase spanning ``window`` (start, end)."""
    return {"end_date": window[1], "start_date": window[0]}


def window_of(ph: dict[str, Any]) -> tuple[int, int]:
    return ph["start_date"], ph["end_date"]
