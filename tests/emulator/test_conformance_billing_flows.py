"""Conformance of the issue-10 objects (intents, refunds, credit notes, tax IDs, balance transactions,
Checkout, the billing portal) with the same checker as ``test_conformance.py``: every stored object and
every 2xx body has at least the keys of Stripe's example of its type, and enum values the SDK declares."""

from __future__ import annotations

import json
from typing import Any

import pytest

from billingos.emulator import Emulator

from .billing_kit import customer as make_customer
from .billing_kit import price as make_price
from .hosted_kit import BASE, get, post
from .test_conformance import _check, _type_name, fixtures  # noqa: F401  (the fixtures fixture)

NEW_TYPES = {"setup_intent", "payment_intent", "charge", "refund", "credit_note", "credit_note_line_item",
             "customer_balance_transaction", "tax_id", "deleted_tax_id", "checkout.session", "item",
             "billing_portal.configuration", "billing_portal.session"}


@pytest.fixture
def emulator(clock) -> Emulator:
    return Emulator(clock=clock, hosted_base_url=BASE)


@pytest.fixture
def answered(emulator: Emulator) -> list[tuple[str, str, Any]]:
    bodies: list[tuple[str, str, Any]] = []
    handle = emulator.handle

    def recording(method: str, path: str, query: str, body: str, headers: dict[str, str]):
        status, hdrs, payload = handle(method, path, query, body, headers)
        if status < 300:
            bodies.append((method, path, json.loads(payload)))
        return status, hdrs, payload

    emulator.handle = recording  # type: ignore[method-assign]
    return bodies


def _scenario(client, em: Emulator) -> None:
    cust = make_customer(client, name="Acme")
    price = make_price(client, 2500)
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": price.id}]})
    inv = client.v1.invoices.retrieve(sub.latest_invoice)
    seti = client.v1.setup_intents.create(params={"customer": cust.id, "payment_method": "pm_card_visa",
                                                  "confirm": True})
    client.v1.setup_intents.list()
    client.v1.setup_intents.cancel(client.v1.setup_intents.create(params={}).id)
    pi = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd", "customer": cust.id,
                                                  "payment_method": seti.payment_method, "confirm": True})
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 100})
    client.v1.refunds.list()
    cn = client.v1.credit_notes.create(params={"invoice": inv.id, "refund_amount": 500, "lines": [
        {"type": "invoice_line_item", "invoice_line_item": inv.lines.data[0].id, "amount": 500}]})
    client.v1.credit_notes.create(params={"invoice": inv.id, "credit_amount": 300, "lines": [
        {"type": "custom_line_item", "description": "Credit", "unit_amount": 300}]})
    client.v1.credit_notes.preview(params={"invoice": inv.id, "amount": 100, "out_of_band_amount": 100})
    client.v1.credit_notes.line_items.list(cn.id)
    client.v1.customers.balance_transactions.list(cust.id)
    tid = client.v1.customers.tax_ids.create(cust.id, params={"type": "eu_vat", "value": "DE123456789"})
    client.v1.customers.tax_ids.delete(cust.id, tid.id)
    client.v1.customers.tax_ids.create(cust.id, params={"type": "us_ein", "value": "12-3456789"})
    cs = client.v1.checkout.sessions.create(params={"mode": "subscription", "line_items": [{"price": price.id}],
                                                    "success_url": "https://shop.test/ok"})
    client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["line_items"]})
    client.v1.checkout.sessions.line_items.list(cs.id)
    page = get(em, cs.url)
    post(em, cs.url, {"token": page.token(), "email": "new@b.co", "card": "pm_card_visa"})
    client.v1.checkout.sessions.create(params={"mode": "setup", "customer": cust.id, "success_url": "https://s.test/"})
    client.v1.checkout.sessions.list()
    client.v1.billing_portal.configurations.create(params={"features": {"invoice_history": {"enabled": True}}})
    client.v1.billing_portal.sessions.create(params={"customer": cust.id, "flow_data": {
        "type": "subscription_cancel", "subscription_cancel": {"subscription": sub.id},
        "after_completion": {"type": "redirect", "redirect": {"return_url": "https://shop.test/done"}}}})
    client.v1.billing_portal.configurations.list()
    client.v1.events.list(params={"limit": 100})


def test_new_objects_have_stripe_shape(client, emulator: Emulator, answered, fixtures) -> None:  # noqa: F811
    _scenario(client, emulator)
    stored = _check(fixtures, list(emulator.store.objects.items()))
    assert stored.errors == []
    answers = _check(fixtures, [(f"{m} {p}", body) for m, p, body in answered])
    assert answers.errors == []
    assert stored.types | answers.types >= NEW_TYPES
    events = {e["type"] for e in emulator.store.all("event")}
    assert {"setup_intent.succeeded", "refund.created", "charge.refunded", "credit_note.created",
            "customer.tax_id.created", "customer.tax_id.deleted", "checkout.session.completed",
            "billing_portal.session.created", "billing_portal.configuration.created"} <= events


def test_objects_stripe_omits_are_absent_not_null(client, emulator: Emulator) -> None:
    """Fields Stripe leaves out unless asked (includable) or for other payment types stay out."""
    cust = make_customer(client)
    price = make_price(client, 1000)
    cs = client.v1.checkout.sessions.create(params={"mode": "subscription", "line_items": [{"price": price.id}]})
    assert "line_items" not in cs
    assert "line_items" in client.v1.checkout.sessions.retrieve(cs.id, params={"expand": ["line_items"]})
    pi = client.v1.payment_intents.create(params={"amount": 900, "currency": "usd", "customer": cust.id,
                                                  "payment_method": "pm_card_visa", "confirm": True})
    refund = client.v1.refunds.create(params={"payment_intent": pi.id})
    for absent in ("failure_reason", "failure_balance_transaction", "next_action", "instructions_email",
                   "pending_reason", "presentment_details"):
        assert absent not in refund, absent
    assert _type_name(client.v1.customers.tax_ids.create(cust.id, params={
        "type": "us_ein", "value": "12-3456789"}).to_dict()) == "tax_id"
