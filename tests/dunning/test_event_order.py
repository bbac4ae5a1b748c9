"""Property: however the webhooks arrive (shuffled, duplicated), dunning reaches the same end, with each
signal and each email once."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billingos import Billing, signals
from billingos.billing import _make_engine
from billingos.clock import FrozenClock
from billingos.emulator import Emulator, EmulatorSettings
from tests.conftest import WEBHOOK_SECRET


def _day(b: Billing, clock: FrozenClock, em: Emulator, rng: random.Random, duplicate: float) -> None:
    target = clock.now() + timedelta(days=1)
    while clock.now() < target:
        clock.set(min(clock.now() + timedelta(hours=6), target))
        em.advance_to(clock.now())
        em.webhooks.deliver(shuffle=rng, duplicate=duplicate)
        b.testing.drain()


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1), duplicate=st.sampled_from([0.0, 0.5, 1.0]),
       recover_on=st.sampled_from([None, 4, 7]))
def test_webhook_order_never_changes_the_outcome(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory,
                                                 seed: int, duplicate: float, recover_on: int | None) -> None:
    db = tmp_path_factory.mktemp("order") / "billing.db"      # a fresh database per example
    shutil.copy(sqlite_template, db)
    engine = _make_engine(f"sqlite:///{db}")
    clock = FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    em = Emulator(clock=clock, settings=EmulatorSettings(retry_schedule_days=(), after_final_failure="past_due"))
    b = Billing(engine=engine, emulator=em, clock=clock, webhook_secrets=[WEBHOOK_SECRET])
    seen: Counter[str] = Counter()

    def hook(sender: Any, **kw: Any) -> None:
        if sender is b:
            seen[str(kw.get("outcome") or kw.get("retry") or "recovered")] += 1
    for sig in (signals.payment_retry_scheduled, signals.payment_recovered, signals.dunning_exhausted):
        sig.connect(hook)
    try:
        v1 = b.stripe.v1
        prod = v1.products.create(params={"name": "Pro"})
        v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 3000,
                                 "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"})
        b.testing.connect(mode="manual")
        outbox = b.testing.outbox
        c = b.customers.create(owner_id="org_o", email="o@example.com")
        pm = v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
        b.customers.update("org_o", default_payment_method=pm.id)
        b.subscriptions.create(b.customers.get(owner_id="org_o"), price="pro_monthly")
        bad = v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": c.id})
        b.customers.update("org_o", default_payment_method=bad.id)
        rng = random.Random(seed)
        for day in range(1, 31 + 12):
            if recover_on is not None and day == 31 + recover_on:
                good = v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
                b.customers.update("org_o", default_payment_method=good.id)
            _day(b, clock, em, rng, duplicate)
        inv = b.invoices.list("org_o")[0]
        case = b.dunning.get(inv.id)
        emails = Counter(m.template for m in outbox.messages)
        if recover_on is None:
            assert (case.status, case.outcome, case.retries_done) == ("exhausted", "canceled", 3)
            assert seen == Counter({"1": 1, "2": 1, "3": 1, "canceled": 1})
            assert emails == Counter({"payment_failed": 1, "retry_scheduled": 3, "dunning_exhausted": 1})
        else:       # the new card is charged at once (outside the schedule) and succeeds
            n = 2 if recover_on == 4 else 3             # retries scheduled by then (on days 0, 3 and 5)
            assert (case.status, case.retries_done) == ("recovered", n - 1)
            assert seen == Counter({**{str(i): 1 for i in range(1, n + 1)}, "recovered": 1})
            assert emails == Counter({"payment_failed": 1, "retry_scheduled": n, "payment_recovered": 1})
    finally:
        for sig in (signals.payment_retry_scheduled, signals.payment_recovered, signals.dunning_exhausted):
            sig.disconnect(hook)
        b.close()
        engine.dispose()
