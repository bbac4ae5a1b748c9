"""Issue 8 item 2: one intent, one Stripe subscription, in every order of commit failure, reconcile and retry.

The failure is real: the local transaction that stores the new subscription raises (an in-transaction
subscriber, as a lost database would) after Stripe made the subscription. Then reconcile, webhooks, time
past Stripe's 24 h idempotency window and retries come in each order; Stripe must hold exactly one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from billingos import Billing, InvalidInputError
from billingos.domain_events import SubscriptionSynced


class Broken:
    """The local commit of a subscription fails while ``on``."""

    def __init__(self, billing: Billing) -> None:
        self.billing, self.on = billing, False
        billing.events.subscribe_in_transaction(SubscriptionSynced, self._boom)

    def _boom(self, session: Any, event: Any) -> None:
        if self.on:
            raise RuntimeError("the database went away before the commit")


def _remote(billing: Billing, customer: str) -> list[str]:
    subs = billing.stripe.v1.subscriptions.list(params={"customer": customer, "status": "all"}).data
    return [s.id for s in subs]


STEPS: dict[str, Callable[[Billing, Broken, Any], None]] = {
    "reconcile": lambda b, broken, clock: b.reconcile(),
    "a day passes": lambda b, broken, clock: clock.advance(days=1, hours=2),
    "failed retry": lambda b, broken, clock: None,      # handled in the test: a retry that fails again
}

ORDERS = [
    [],                                                   # fail, retry
    ["reconcile"],                                        # the reported case: reconcile restores it, then retry
    ["a day passes"],                                     # Stripe forgot the idempotency key
    ["a day passes", "reconcile"],
    ["reconcile", "a day passes"],
    ["failed retry"],
    ["reconcile", "failed retry", "reconcile"],
    ["a day passes", "failed retry", "reconcile", "a day passes"],
]


@pytest.mark.parametrize("explicit", [False, True], ids=["derived key", "caller's key"])
@pytest.mark.parametrize("order", ORDERS, ids=lambda o: "fail, " + ", ".join([*o, "retry"]))
def test_one_intent_one_subscription(billing: Billing, plans: Any, card_customer: Any, clock: Any,
                                     order: list[str], explicit: bool) -> None:
    broken = Broken(billing)
    options = {"idempotency_key": "checkout-42"} if explicit else {}

    def create() -> Any:
        return billing.subscriptions.create(card_customer, price="pro_monthly", **options)
    broken.on = True
    with pytest.raises(RuntimeError, match="went away"):
        create()
    broken.on = False
    assert len(_remote(billing, card_customer.id)) == 1 and billing.subscriptions.list("org_card") == []
    for step in order:
        if step == "failed retry":
            broken.on = True
            with pytest.raises(RuntimeError):
                create()
            broken.on = False
        else:
            STEPS[step](billing, broken, clock)
    sub = create()
    assert _remote(billing, card_customer.id) == [sub.id]
    assert [s.id for s in billing.subscriptions.list("org_card")] == [sub.id] and sub.status == "active"
    if explicit:        # the caller's key names the intent for good: even after it finished, it is that one
        assert create().id == sub.id and _remote(billing, card_customer.id) == [sub.id]


def test_a_second_purchase_after_a_finished_one_is_new(billing: Billing, plans: Any, card_customer: Any) -> None:
    """Without a caller's key, the same request after the first finished is a deliberate second one."""
    first = billing.subscriptions.create(card_customer, price="pro_monthly")
    second = billing.subscriptions.create(card_customer, price="pro_monthly")
    assert first.id != second.id and len(_remote(billing, card_customer.id)) == 2


def test_the_intent_key_is_in_stripe_metadata(billing: Billing, plans: Any, card_customer: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly", idempotency_key="order-7",
                                       metadata={"order": "7"})
    remote = billing.stripe.v1.subscriptions.retrieve(sub.id).metadata.to_dict()
    assert remote == {"order": "7", "billingos_intent": "order-7"}


def test_the_intent_metadata_key_is_reserved(billing: Billing, plans: Any, card_customer: Any) -> None:
    with pytest.raises(InvalidInputError, match="reserved") as e:
        billing.subscriptions.create(card_customer, price="pro_monthly", metadata={"billingos_intent": "x"})
    assert e.value.param == "metadata" and _remote(billing, card_customer.id) == []


def test_a_callers_key_for_another_request_is_a_conflict(billing: Billing, plans: Any, card_customer: Any) -> None:
    from billingos import ConflictError
    billing.subscriptions.create(card_customer, price="pro_monthly", idempotency_key="k-1")
    with pytest.raises(ConflictError, match="different request"):
        billing.subscriptions.create(card_customer, price="basic_monthly", idempotency_key="k-1")
    assert len(_remote(billing, card_customer.id)) == 1
