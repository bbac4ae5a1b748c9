"""The emulator's signed deliveries reach billing.webhooks.receive through billing.testing.connect()."""

from __future__ import annotations

import random

import pytest

from billingos import Billing, ConfigurationError


def test_connected_emulator_delivers_signed_events(billing: Billing) -> None:
    billing.testing.connect()
    key = billing.config.owner_metadata_key
    c = billing.stripe.v1.customers.create(params={"email": "k@b.co", "metadata": {key: "org_kit"}})
    assert billing.customers.get(owner_id="org_kit").id == c.id      # delivered and processed inline
    statuses = [a.status for a in billing.emulator.webhooks.log]
    assert statuses and set(statuses) == {200}


def test_manual_mode_shuffled_duplicated_deliveries_converge(billing: Billing) -> None:
    billing.testing.connect(mode="manual")
    key = billing.config.owner_metadata_key
    ids = []
    for i in range(4):
        c = billing.stripe.v1.customers.create(params={"email": f"m{i}@b.co", "metadata": {key: f"org_{i}"}})
        billing.stripe.v1.customers.update(c.id, params={"name": f"N{i}"})
        ids.append(c.id)
    billing.emulator.webhooks.deliver(shuffle=random.Random(7), duplicate=0.5)
    billing.testing.drain()
    assert [billing.customers.get(owner_id=f"org_{i}").name for i in range(4)] == [f"N{i}" for i in range(4)]
    assert len(billing.webhooks.events()) == 8


def test_kit_refuses_without_emulator_or_secret(engine: object) -> None:
    with pytest.raises(ConfigurationError, match="emulator"):
        Billing(engine=engine, stripe_api_key="sk_test_x").testing  # noqa: B018
    no_secret = Billing(engine=engine, stripe_emulator=True)
    with pytest.raises(ConfigurationError, match="webhook_secrets"):
        no_secret.testing.connect()
    with pytest.raises(ConfigurationError, match="FrozenClock"):
        no_secret.testing.advance(days=1)
