"""``state_path``: objects and the typed server-side state survive a restart; an older file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from billingos.clock import FrozenClock
from billingos.emulator import Emulator, EmulatorSettings

from .billing_kit import DAY, T0, customer, metered_price


def test_state_survives_a_restart(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "stripe.json"
    em = Emulator(clock=clock, state_path=path)
    client = em.client()
    calls = metered_price(client, unit_amount=3)
    cust = customer(client, card="pm_card_chargeCustomerFail")
    sub = client.v1.subscriptions.create(params={"customer": cust.id, "items": [{"price": calls.id}]})
    client.v1.billing.meter_events.create(params={"event_name": "API_calls", "identifier": "e1",
                                                  "payload": {"stripe_customer_id": cust.id, "value": "7"}})
    we = client.v1.webhook_endpoints.create(params={"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})
    em.webhooks.set_endpoint_secrets(we.id, ["whsec_old", "whsec_new"])
    pm = client.v1.payment_methods.list(params={"customer": cust.id}).data[0]
    client.v1.payment_methods.detach(pm.id)
    em.advance_to(T0 + 31 * DAY)                 # renewal fails: a retry is scheduled in the invoice's state
    inv_id = client.v1.subscriptions.retrieve(sub.id).latest_invoice

    again = Emulator(clock=clock, state_path=path)
    assert [(e.identifier, e.value) for e in again.meter_events()] == [("e1", "7")]
    assert again.webhooks.secret(we.id) == "whsec_new"
    assert pm.id in again.state.detached_payment_methods
    assert again.state.invoice(inv_id) == em.state.invoice(inv_id)
    assert again.client().v1.subscriptions.retrieve(sub.id).status == "past_due"


def test_a_state_file_of_the_older_format_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "stripe.json"
    old = {"objects": {}, "by_kind": {}, "deleted": [], "idempotency": [], "extensions": {"webhook_secrets": {}}}
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"older billingos emulator wrote it \(state format 1"):
        Emulator(state_path=path)
    assert json.loads(path.read_text()) == old


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="retry_schedule_days must be increasing"):
        EmulatorSettings(retry_schedule_days=(5, 3))
    with pytest.raises(ValueError, match="after_final_failure"):
        EmulatorSettings(after_final_failure="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="upcoming_days"):
        EmulatorSettings(upcoming_days=-1)
    with pytest.raises(TypeError, match="EmulatorSettings"):
        Emulator(settings={"upcoming_days": 3})  # type: ignore[arg-type]
