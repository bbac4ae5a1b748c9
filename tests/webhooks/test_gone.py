"""An object Stripe answers 404 for is gone, the same way for every kind: its events are processed (never
retried into the dead letter) and the local copy follows; reconcile applies the same rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from billingos import Billing, NotFoundError, ReconcileRefusedError
from billingos.emulator import signature_header
from tests.conftest import WEBHOOK_SECRET


def _deliver(billing: Billing, events: list[dict[str, Any]]) -> None:
    for event in events:
        body = json.dumps(event).encode()
        billing.webhooks.receive(body, {"Stripe-Signature": signature_header(body, [WEBHOOK_SECRET],
                                        int(billing.now().timestamp())), "Content-Type": "application/json"})


def _draft(billing: Billing, owner: str) -> tuple[Any, list[dict[str, Any]]]:
    """A customer with a draft invoice in Stripe, and the events that made them."""
    emitted: list[dict[str, Any]] = []
    billing.emulator.hooks.event.append(emitted.append)
    customer = billing.customers.create(owner_id=owner, email=f"{owner}@b.co")
    sc = billing.stripe.v1
    sc.invoice_items.create(params={"customer": customer.id, "amount": 500, "currency": "usd"})
    invoice = sc.invoices.create(params={"customer": customer.id, "pending_invoice_items_behavior": "include"})
    return invoice, emitted


def test_a_deleted_draft_invoice_is_deleted_locally_not_dead_lettered(billing: Billing) -> None:
    invoice, emitted = _draft(billing, "org_draft")
    _deliver(billing, [e for e in emitted if e["type"].startswith("invoice.")])
    assert billing.invoices.get(invoice.id).status == "draft"
    start = len(emitted)
    billing.stripe.v1.invoices.delete(invoice.id)
    deleted = [e for e in emitted[start:] if e["type"] == "invoice.deleted"]
    assert deleted, "the emulator announces the deletion"
    _deliver(billing, deleted)
    assert {e.type: e.status for e in billing.webhooks.events()}["invoice.deleted"] == "processed"
    assert [e for e in billing.webhooks.events() if e.status in ("failed", "dead")] == []
    with pytest.raises(NotFoundError):
        billing.invoices.get(invoice.id)


def test_an_invoice_event_about_an_invoice_gone_since_is_processed(billing: Billing) -> None:
    """The event arrives after the draft was deleted: the fetch says 404, nothing is stored, no retry."""
    invoice, emitted = _draft(billing, "org_late")
    billing.stripe.v1.invoices.delete(invoice.id)
    created = [e for e in emitted if e["type"] == "invoice.created"]
    _deliver(billing, created)
    assert [e.status for e in billing.webhooks.events() if e.type == "invoice.created"] == ["processed"]
    assert billing.invoices.list("org_late") == []


def test_reconcile_removes_a_local_invoice_gone_from_stripe(billing: Billing, clock: Any) -> None:
    invoice, emitted = _draft(billing, "org_rec")
    _deliver(billing, [e for e in emitted if e["type"].startswith("invoice.")])
    billing.stripe.v1.invoices.delete(invoice.id)      # the deletion's webhook is lost ...
    clock.advance(days=4)                              # ... and is past reconcile's 3-day event backfill
    with pytest.raises(ReconcileRefusedError, match="1 of 1 local invoices"):   # 100% > the 10% limit
        billing.reconcile()
    assert [i.id for i in billing.invoices.list("org_rec")] == [invoice.id]
    report = billing.reconcile(force=True)
    assert report.events_backfilled == 0 and report.kind("invoices").removed == [invoice.id]
    assert billing.invoices.list("org_rec") == []
