"""A Billing whose Stripe account has its automatic retries off (Smart Retries off, leave past-due), a plan
with a feature, and a recorder of the dunning signals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from billingos import Billing, signals
from billingos.emulator import Emulator, EmulatorSettings
from billingos.notifications import OutboxMailer

DUNNING_SIGNALS = ("payment_retry_scheduled", "payment_recovered", "dunning_exhausted", "payment_failed",
                   "subscription_canceled", "subscription_past_due")


@dataclass
class World:
    billing: Billing
    price: str = "pro_monthly"
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def names(self, name: str) -> list[dict[str, Any]]:
        return [kw for n, kw in self.seen if n == name]

    def customer(self, owner: str, card: str = "pm_card_visa", **card_params: Any) -> Any:
        b = self.billing
        c = b.customers.create(owner_id=owner, email=f"{owner}@example.com", name="Ada <Lovelace>")
        if card_params:
            pm = b.stripe.v1.payment_methods.create(params={"type": "card", "card": card_params})
            b.stripe.v1.payment_methods.attach(pm.id, params={"customer": c.id})
        else:
            pm = b.stripe.v1.payment_methods.attach(card, params={"customer": c.id})
        return b.customers.update(owner, default_payment_method=pm.id)

    def fail_next_charges(self, owner: str) -> None:
        b = self.billing
        c = b.customers.get(owner_id=owner)
        bad = b.stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": c.id})
        b.customers.update(owner, default_payment_method=bad.id)

    def emails(self, to: str | None = None) -> dict[str, int]:
        outbox = self.billing.notifications.mailer
        assert isinstance(outbox, OutboxMailer)
        out: dict[str, int] = {}
        for m in outbox.sent(to=to):
            out[m.template] = out.get(m.template, 0) + 1
        return out

    def attempts(self, invoice_id: str) -> int:
        return int(self.billing.stripe.v1.invoices.retrieve(invoice_id).attempt_count)


@pytest.fixture
def retries_off(emulator: Emulator) -> Emulator:
    emulator.settings = EmulatorSettings(retry_schedule_days=(), after_final_failure="past_due")
    return emulator


@pytest.fixture
def world(billing: Billing, retries_off: Emulator) -> Iterator[World]:
    v1 = billing.stripe.v1
    feature = v1.entitlements.features.create(params={"name": "Export", "lookup_key": "export"})
    prod = v1.products.create(params={"name": "Pro"})
    v1.products.features.create(prod.id, params={"entitlement_feature": feature.id})
    v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 3000,
                             "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"})
    billing.testing.connect()
    assert billing.testing.outbox.messages == []
    w = World(billing)
    hooks = []
    for name in DUNNING_SIGNALS:
        def hook(sender: Any, _name: str = name, **kw: Any) -> None:
            if sender is billing:
                w.seen.append((_name, kw))
        getattr(signals, name).connect(hook)
        hooks.append((name, hook))
    yield w
    for name, hook in hooks:
        getattr(signals, name).disconnect(hook)
    billing.entitlements.close()
