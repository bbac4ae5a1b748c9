"""Each module registers its routes on the emulator's router. Order does not matter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    balance_transactions,
    billing_portal,
    checkout_sessions,
    coupons,
    credit_notes,
    customer_balance,
    customers,
    events,
    features,
    invoice_items,
    invoice_send,
    invoices,
    meter_events,
    meters,
    payment_intent_api,
    payment_intents,
    payment_methods,
    prices,
    products,
    refunds,
    setup_intents,
    subscription_items,
    subscription_schedules,
    subscriptions,
    tax_ids,
    tax_rates,
    test_clocks,
    webhook_endpoints,
)

if TYPE_CHECKING:
    from ..app import Emulator

MODULES = [balance_transactions, customers, events, meters, meter_events, payment_methods, products, prices,
           features, test_clocks, webhook_endpoints, coupons, tax_rates, payment_intents, invoices, invoice_items,
           subscriptions, subscription_items, subscription_schedules,
           # issue 10: intents, refunds, credit notes, tax ids, Checkout and the billing portal
           setup_intents, payment_intent_api, refunds, credit_notes, customer_balance, tax_ids, invoice_send,
           checkout_sessions, billing_portal]


def register_all(em: Emulator) -> None:
    for module in MODULES:
        module.register(em)
