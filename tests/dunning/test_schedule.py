"""Dunning day by day on the clock: retries on days 3, 5 and 10, grace kept, the final outcome, each signal
once; a hard decline or a missing payment method is not retried; a recovery mid-way stops the schedule."""

from __future__ import annotations

from datetime import timedelta

from billingos import Billing
from billingos.dunning import HARD_DECLINES
from billingos.emulator.settings import DEFAULT_HARD_DECLINES

from .conftest import World

DAY = timedelta(days=1)


def _renewal_fails(w: World, owner: str) -> tuple[str, str]:
    """Subscribe (paid), make later charges fail, advance to the renewal: returns (subscription, invoice)."""
    b = w.billing
    sub = b.subscriptions.create(b.customers.get(owner_id=owner), price=w.price)
    w.fail_next_charges(owner)
    b.testing.advance(days=31)
    inv = b.invoices.list(owner)[0]
    assert inv.billing_reason == "subscription_cycle" and inv.status == "open"
    assert b.subscriptions.get(sub.id).status == "past_due"
    return sub.id, inv.id


def test_three_retries_on_days_3_5_10_then_cancel(world: World) -> None:
    b = world.billing
    world.customer("org_a")
    sub_id, inv_id = _renewal_fails(world, "org_a")
    first = b.now()
    case = b.dunning.get(inv_id)
    assert (case.status, case.retries_done, case.first_failed_at) == ("open", 0, first)
    assert [kw["retry_at"] for kw in world.names("payment_retry_scheduled")] == [first + 3 * DAY]
    attempts, access = {}, {}
    for day in range(1, 12):
        b.testing.advance(days=1)
        attempts[day] = world.attempts(inv_id)
        access[day] = b.has_feature("org_a", "export")
    # one attempt at the renewal, then one retry on each of days 3, 5 and 10
    assert attempts == {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 3, 8: 3, 9: 3, 10: 4, 11: 4}
    assert all(access[d] for d in range(1, 10)) and not access[10] and not access[11]   # grace, then gone
    scheduled = world.names("payment_retry_scheduled")
    assert [(kw["retry"], kw["retry_at"]) for kw in scheduled] == [
        (1, first + 3 * DAY), (2, first + 5 * DAY), (3, first + 10 * DAY)]
    exhausted = world.names("dunning_exhausted")
    assert len(exhausted) == 1 and exhausted[0]["outcome"] == "canceled"
    assert exhausted[0]["case"].invoice_id == inv_id and exhausted[0]["case"].retries_done == 3
    assert world.names("payment_recovered") == []
    assert len(world.names("payment_failed")) == 4 and len(world.names("subscription_canceled")) == 1
    assert b.subscriptions.get(sub_id).status == "canceled"
    case = b.dunning.get(inv_id)
    assert (case.status, case.outcome, case.retries_done, case.next_retry_at) == ("exhausted", "canceled", 3, None)
    assert world.emails("org_a@example.com") == {"payment_failed": 1, "retry_scheduled": 3, "dunning_exhausted": 1}
    b.testing.advance(days=30)       # nothing more happens
    assert world.attempts(inv_id) == 4 and len(world.names("dunning_exhausted")) == 1
    assert world.emails("org_a@example.com") == {"payment_failed": 1, "retry_scheduled": 3, "dunning_exhausted": 1}
    retries = world.billing.testing.outbox.sent("retry_scheduled")
    assert [("Your access continues until February 25, 2026" in m.text, m.subject) for m in retries] == [
        (True, "We will retry your payment of $30.00 on February 18, 2026"),
        (True, "We will retry your payment of $30.00 on February 20, 2026"),
        (False, "We will retry your payment of $30.00 on February 25, 2026")]    # access ends with the last retry
    assert "attempt 1 of 3" in retries[0].text and "Your access continues until February 25, 2026" in retries[0].text
    last = world.billing.testing.outbox.sent("dunning_exhausted")[0]
    assert last.subject == "Your subscription was canceled" and "$30.00" in last.text and inv_id not in last.text


def test_final_outcome_unpaid_leaves_the_subscription(billing: Billing, retries_off: object) -> None:
    b = Billing(engine=billing.engine, emulator=billing.emulator, clock=billing.clock,
                webhook_secrets=billing.config.webhook_secrets, dunning_final_outcome="unpaid",
                dunning_retry_days=[1, 2])
    from .conftest import World as W
    v1 = b.stripe.v1
    prod = v1.products.create(params={"name": "Pro"})
    v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 3000,
                             "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"})
    b.testing.connect()
    w = W(b)
    w.customer("org_u")
    sub_id, inv_id = _renewal_fails(w, "org_u")
    b.testing.advance(days=1)
    assert w.attempts(inv_id) == 2 and b.dunning.get(inv_id).status == "open"
    b.testing.advance(days=1)
    case = b.dunning.get(inv_id)
    assert w.attempts(inv_id) == 3 and (case.status, case.outcome) == ("exhausted", "unpaid")
    assert b.subscriptions.get(sub_id).status == "past_due"      # Stripe's API cannot set unpaid: left as is
    assert [c.invoice_id for c in b.dunning.list(owner_id="org_u", status="exhausted")] == [inv_id]
    b.entitlements.close()


def test_recovery_mid_way_stops_the_schedule(world: World) -> None:
    b = world.billing
    world.customer("org_r")
    sub_id, inv_id = _renewal_fails(world, "org_r")
    b.testing.advance(days=3)
    assert world.attempts(inv_id) == 2
    assert b.dunning.past_due("org_r") is not None
    good = b.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": b.customers.get(owner_id="org_r").id})
    b.customers.update("org_r", default_payment_method=good.id)     # "update your card": retried at once
    assert world.attempts(inv_id) == 3
    assert b.subscriptions.get(sub_id).status == "active"
    assert b.dunning.get(inv_id).retries_done == 1                  # the card's retry is outside the schedule
    b.testing.advance(days=2)            # retry 2 (day 5) finds the case recovered: no charge
    recovered = world.names("payment_recovered")
    assert len(recovered) == 1 and recovered[0]["case"].invoice_id == inv_id
    b.testing.advance(days=10)
    assert world.attempts(inv_id) == 3 and world.names("dunning_exhausted") == []
    assert [kw["retry"] for kw in world.names("payment_retry_scheduled")] == [1, 2]
    assert b.dunning.get(inv_id).status == "recovered" and b.dunning.past_due("org_r") is None
    assert b.has_feature("org_r", "export")
    assert world.emails("org_r@example.com") == {"payment_failed": 1, "retry_scheduled": 2, "payment_recovered": 1}


def test_customer_pays_between_retries(world: World) -> None:
    b = world.billing
    world.customer("org_p")
    _, inv_id = _renewal_fails(world, "org_p")
    b.testing.advance(days=1)
    b.stripe.v1.invoices.pay(inv_id, params={"paid_out_of_band": True})
    b.testing.drain()
    assert b.dunning.get(inv_id).status == "recovered" and len(world.names("payment_recovered")) == 1
    b.testing.advance(days=12)
    assert world.attempts(inv_id) == 1 and world.names("dunning_exhausted") == []


def test_hard_decline_is_not_retried(world: World) -> None:
    b = world.billing
    # valid when subscribing (January), expired at the renewal: the issuer answers expired_card
    world.customer("org_h", number="4242424242424242", exp_month=1, exp_year=2026, cvc="123")
    sub = b.subscriptions.create(b.customers.get(owner_id="org_h"), price=world.price)
    b.testing.advance(days=31)
    inv_id = b.invoices.list("org_h")[0].id
    case = b.dunning.get(inv_id)
    assert (case.last_decline_code, case.no_retry_reason, case.next_retry_at) == ("expired_card", "hard_decline", None)
    for _ in range(11):
        b.testing.advance(days=1)
    assert world.attempts(inv_id) == 1 and world.names("payment_retry_scheduled") == []
    assert world.emails("org_h@example.com") == {"payment_failed": 1, "dunning_exhausted": 1}
    exhausted = world.names("dunning_exhausted")
    assert len(exhausted) == 1 and exhausted[0]["outcome"] == "canceled"
    assert b.subscriptions.get(sub.id).status == "canceled"


def test_no_payment_method_is_not_retried(world: World) -> None:
    b = world.billing
    world.customer("org_n")
    sub = b.subscriptions.create(b.customers.get(owner_id="org_n"), price=world.price)
    c = b.customers.get(owner_id="org_n")
    for pm in b.stripe.v1.payment_methods.list(params={"customer": c.id, "type": "card"}).data:
        b.stripe.v1.payment_methods.detach(pm.id)
    b.testing.advance(days=31)
    inv_id = b.invoices.list("org_n")[0].id
    assert b.dunning.get(inv_id).no_retry_reason == "no_payment_method"
    b.testing.advance(days=11)
    assert world.attempts(inv_id) == 1 and world.names("payment_retry_scheduled") == []
    assert len(world.names("dunning_exhausted")) == 1 and b.subscriptions.get(sub.id).status == "canceled"


def test_stripe_retries_on_are_followed_not_doubled(billing: Billing, emulator: object) -> None:
    """With Stripe's own retries on (the emulator's default 3/5/10 and cancel), billingos never pays itself:
    it reports Stripe's schedule and outcome, each once."""
    w = World(billing)
    v1 = billing.stripe.v1
    prod = v1.products.create(params={"name": "Pro"})
    v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 3000,
                             "recurring": {"interval": "month"}, "lookup_key": "pro_monthly"})
    billing.testing.connect()
    from billingos import signals
    seen: list[str] = []
    def hook(sender: object, **kw: object) -> None:
        seen.append(str(kw.get("outcome") or kw.get("retry")))
    signals.payment_retry_scheduled.connect(hook)
    signals.dunning_exhausted.connect(hook)
    try:
        w.customer("org_s")
        _sub_id, inv_id = _renewal_fails(w, "org_s")
        for _ in range(11):
            billing.testing.advance(days=1)
    finally:
        signals.payment_retry_scheduled.disconnect(hook)
        signals.dunning_exhausted.disconnect(hook)
    assert w.attempts(inv_id) == 4 and seen == ["1", "2", "3", "canceled"]
    assert billing.dunning.get(inv_id).outcome == "canceled"


def test_hard_decline_codes_match_stripes_list() -> None:
    assert DEFAULT_HARD_DECLINES <= HARD_DECLINES
