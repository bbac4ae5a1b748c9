"""receive(): signature, content type, size and shape checks; stored once; processed exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import Billing, signals
from billingos.customers import BillingCustomer
from billingos.emulator import signature_header
from billingos.webhooks import BillingWebhookEvent, WebhookPayloadError, WebhookSignatureError
from tests.conftest import WEBHOOK_SECRET


def _signed(billing: Billing, event: dict[str, Any], *, secret: str = WEBHOOK_SECRET,
            at: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    ts = int(billing.now().timestamp()) if at is None else at
    return body, {"Stripe-Signature": signature_header(body, [secret], ts),
                  "Content-Type": "application/json; charset=utf-8"}


def _stripe_events(billing: Billing, type: str) -> list[dict[str, Any]]:
    return [e.to_dict() for e in billing.stripe.v1.events.list(params={"type": type, "limit": 100}).data]


def _stored(billing: Billing) -> int:
    with billing.session_factory() as s:
        return s.scalar(select(func.count()).select_from(BillingWebhookEvent)) or 0


def _remote_customer(billing: Billing, owner: str, email: str) -> str:
    key = billing.config.owner_metadata_key
    return str(billing.stripe.v1.customers.create(params={"email": email, "metadata": {key: owner}}).id)


def test_valid_delivery_is_stored_and_applied_once(billing: Billing) -> None:
    cid = _remote_customer(billing, "org_w", "w@b.co")
    event = _stripe_events(billing, "customer.created")[0]
    created: list[str] = []
    signals.customer_created.connect(lambda sender, customer, owner_id: created.append(owner_id), weak=False)
    try:
        receipt = billing.webhooks.receive(*_signed(billing, event))
        again = billing.webhooks.receive(*_signed(billing, event))
    finally:
        signals.customer_created.receivers.clear()
    assert receipt.accepted and not receipt.duplicate and receipt.event_id == event["id"]
    assert again.accepted and again.duplicate
    assert billing.customers.get(owner_id="org_w").id == cid
    assert created == ["org_w"]
    assert [e.status for e in billing.webhooks.events()] == ["processed"]


def test_rotated_secret_is_accepted_during_overlap(billing: Billing, engine: Any, emulator: Any) -> None:
    rotated = Billing(engine=engine, emulator=emulator, clock=billing.clock,
                      webhook_secrets=["whsec_new_secret_abcdef", WEBHOOK_SECRET])
    _remote_customer(billing, "org_r", "r@b.co")
    event = _stripe_events(billing, "customer.created")[0]
    assert rotated.webhooks.receive(*_signed(rotated, event)).accepted
    event2 = {**event, "id": "evt_second_delivery"}
    body2 = json.dumps(event2).encode()
    both = signature_header(body2, ["whsec_unknown_abcdef", "whsec_new_secret_abcdef"],
                            int(billing.now().timestamp()))
    assert rotated.webhooks.receive(body2, {"Stripe-Signature": both, "Content-Type": "application/json"}).accepted


def _bad_cases(billing: Billing, event: dict[str, Any]) -> list[tuple[str, bytes, dict[str, str]]]:
    body, headers = _signed(billing, event)
    now = int(billing.now().timestamp())
    return [
        ("wrong secret", *_signed(billing, event, secret="whsec_attacker_000000")),
        ("old timestamp", *_signed(billing, event, at=now - 301)),
        ("future timestamp", *_signed(billing, event, at=now + 301)),
        ("no header", body, {"Content-Type": "application/json"}),
        ("garbage header", body, {**headers, "Stripe-Signature": "nonsense"}),
        ("v0 only", body, {**headers, "Stripe-Signature": headers["Stripe-Signature"].replace("v1=", "v0=")}),
        ("tampered body", body.replace(b'"customer"', b'"customeX"', 1), headers),
        ("wrong content type", body, {**headers, "Content-Type": "text/plain"}),
        ("oversized body", body + b" " * (600 * 1024), headers),
    ]


def test_bad_deliveries_get_400_and_nothing_is_stored(billing: Billing) -> None:
    _remote_customer(billing, "org_b", "b@b.co")
    event = _stripe_events(billing, "customer.created")[0]
    for name, body, headers in _bad_cases(billing, event):
        with pytest.raises(WebhookSignatureError) as err:
            billing.webhooks.receive(body, headers)
        assert err.value.status == 400, name
    assert _stored(billing) == 0
    with billing.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BillingCustomer)) == 0


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"id": "x", "type": "a", "data": {"object": {}}}',
                                     b'{"id": "evt_1", "type": "a"}',
                                     b'{"id": "evt_1", "type": "a", "data": {"object": {}}, "livemode": true}'])
def test_malformed_bodies_are_refused(billing: Billing, payload: bytes) -> None:
    ts = int(billing.now().timestamp())
    headers = {"Stripe-Signature": signature_header(payload, [WEBHOOK_SECRET], ts), "Content-Type": "application/json"}
    with pytest.raises(WebhookPayloadError):
        billing.webhooks.receive(payload, headers)
    assert _stored(billing) == 0


def test_receive_needs_bytes(billing: Billing) -> None:
    with pytest.raises(WebhookPayloadError, match="raw request body"):
        billing.webhooks.receive("{}", {})  # type: ignore[arg-type]


def test_unhandled_types_are_stored_and_ignored(billing: Billing) -> None:
    event = {"id": "evt_unhandled_1", "object": "event", "type": "balance.available", "livemode": False,
             "created": int(billing.now().timestamp()), "data": {"object": {"id": "bal_1", "object": "balance"}}}
    assert billing.webhooks.receive(*_signed(billing, event)).accepted
    assert [(e.id, e.status) for e in billing.webhooks.events()] == [("evt_unhandled_1", "ignored")]


def test_out_of_order_and_duplicate_customer_events_end_in_stripe_state(billing: Billing) -> None:
    cid = _remote_customer(billing, "org_o", "first@b.co")
    billing.stripe.v1.customers.update(cid, params={"email": "second@b.co"})
    billing.stripe.v1.customers.update(cid, params={"name": "Final"})
    events = _stripe_events(billing, "customer.*")
    assert len(events) == 3
    for event in events + list(reversed(events)):  # newest first, then again oldest first
        billing.webhooks.receive(*_signed(billing, event))
    got = billing.customers.get(owner_id="org_o")
    assert (got.email, got.name) == ("second@b.co", "Final")
    assert _stored(billing) == 3


def test_deleted_customer_event_marks_row_deleted(billing: Billing) -> None:
    c = billing.customers.create(owner_id="org_del", email="d@b.co")
    billing.stripe.v1.customers.delete(c.id)
    event = _stripe_events(billing, "customer.deleted")[0]
    billing.webhooks.receive(*_signed(billing, event))
    assert billing.customers.list(include_deleted=True).items[0].deleted


def test_subscribe_validates_and_wildcards_match(billing: Billing) -> None:
    from billingos import InvalidInputError
    with pytest.raises(InvalidInputError):
        billing.webhooks.subscribe("", lambda ctx: None)
    with pytest.raises(InvalidInputError):
        billing.webhooks.subscribe("invoice.paid", "not callable")  # type: ignore[arg-type]
    seen: list[str] = []

    @billing.webhooks.subscribe("balance.*")
    def on_balance(ctx: Any) -> None:
        seen.append(ctx.type)

    event = {"id": "evt_bal", "object": "event", "type": "balance.available", "livemode": False,
             "created": 1, "data": {"object": {"id": "bal_1", "object": "balance"}}}
    billing.webhooks.receive(*_signed(billing, event))
    assert seen == ["balance.available"]
    assert billing.webhooks.events()[0].status == "processed"
