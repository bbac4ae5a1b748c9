"""Every lifecycle path, through the service and the emulator's clock, with signals counted."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from billingos import Billing, signals


@contextmanager
def recorded() -> Iterator[Counter[str]]:
    seen: Counter[str] = Counter()
    names = [n for n in signals.__all__ if n.startswith(("subscription_", "invoice_", "payment_", "trial_"))]
    hooks = []
    for name in names:
        def hook(sender: Any, _name: str = name, **kw: Any) -> None:
            seen[_name] += 1
        getattr(signals, name).connect(hook)
        hooks.append((name, hook))
    try:
        yield seen
    finally:
        for name, hook in hooks:
            getattr(signals, name).disconnect(hook)


def _remote(billing: Billing, sub_id: str) -> dict[str, Any]:
    return billing.stripe.v1.subscriptions.retrieve(sub_id).to_dict()


def test_create_with_card_is_active_and_paid(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    with recorded() as seen:
        sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    assert sub.status == "active" and sub.price == "pro_monthly" and sub.owner_id == "org_card"
    assert _remote(billing, sub.id)["status"] == "active"
    invoices = billing.invoices.list("org_card")
    assert [(i.status, i.amount_paid, i.billing_reason) for i in invoices] == [("paid", 3000, "subscription_create")]
    assert seen["subscription_created"] == 1 and seen["subscription_activated"] == 1
    assert seen["invoice_paid"] == 1 and seen["payment_succeeded"] == 1


def test_trial_without_card_then_card_then_conversion(billing: Billing, plans: Any, kit: Any) -> None:
    c = billing.customers.create(owner_id="org_trial", email="t@b.co")
    with recorded() as seen:
        sub = billing.subscriptions.create(c, price="pro_monthly", trial_days=14)
        assert sub.status == "trialing" and sub.trial_end is not None
        kit.advance(days=11, hours=1)
        assert seen["trial_will_end"] == 1
        pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
        billing.customers.update("org_trial", default_payment_method=pm.id)
        kit.advance(days=3)
    got = billing.subscriptions.get(sub.id)
    assert got.status == "active"
    assert seen["subscription_activated"] == 1 and seen["trial_will_end"] == 1
    assert billing.invoices.list("org_trial", status="paid")[0].amount_paid == 3000


def test_renewal_fires_renewed_and_bills_again(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    with recorded() as seen:
        kit.advance(days=32)
    got = billing.subscriptions.get(sub.id)
    assert got.current_period_start is not None and got.current_period_start > sub.current_period_start
    assert seen["subscription_renewed"] == 1 and seen["invoice_paid"] == 1
    assert [i.billing_reason for i in billing.invoices.list("org_card")] == ["subscription_cycle",
                                                                              "subscription_create"]


def test_failed_renewal_goes_past_due_retries_then_cancels(billing: Billing, plans: Any, card_customer: Any,
                                                             kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    bad = billing.stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail",
                                                   params={"customer": card_customer.id})
    billing.customers.update("org_card", default_payment_method=bad.id)
    with recorded() as seen:
        kit.advance(days=32)
        assert billing.subscriptions.get(sub.id).status == "past_due"
        assert seen["subscription_past_due"] == 1 and seen["payment_failed"] == 1
        kit.advance(days=11)
    assert billing.subscriptions.get(sub.id).status == "canceled"
    assert seen["payment_failed"] == 4 and seen["subscription_canceled"] == 1


def test_recovery_after_failure_returns_to_active(billing: Billing, plans: Any, card_customer: Any,
                                                  kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    bad = billing.stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail",
                                                   params={"customer": card_customer.id})
    billing.customers.update("org_card", default_payment_method=bad.id)
    kit.advance(days=32)
    good = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": card_customer.id})
    billing.customers.update("org_card", default_payment_method=good.id)
    with recorded() as seen:
        kit.advance(days=3, hours=1)                       # the first automatic retry succeeds
    assert billing.subscriptions.get(sub.id).status == "active"
    assert seen["subscription_activated"] == 1 and seen["invoice_paid"] == 1


def test_cancel_at_period_end_then_resume_then_cancel_for_real(billing: Billing, plans: Any, card_customer: Any,
                                                               kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    assert billing.subscriptions.cancel(sub).cancel_at_period_end is True
    assert billing.subscriptions.resume(sub).cancel_at_period_end is False
    billing.subscriptions.cancel(sub)
    with recorded() as seen:
        kit.advance(days=10)
        assert billing.subscriptions.get(sub.id).status == "active"
        kit.advance(days=25)
    assert billing.subscriptions.get(sub.id).status == "canceled" and seen["subscription_canceled"] == 1
    again = billing.subscriptions.reactivate(sub)
    assert again.id != sub.id and again.status == "active" and again.price == "pro_monthly"


def test_cancel_now_and_pause_and_resume(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    with recorded() as seen:
        paused = billing.subscriptions.pause(sub, behavior="void")
        assert paused.paused and seen["subscription_paused"] == 1
        resumed = billing.subscriptions.resume(sub)
        assert not resumed.paused and seen["subscription_resumed"] == 1
        ended = billing.subscriptions.cancel(sub, at_period_end=False)
    assert ended.status == "canceled" and ended.ended_at is not None and seen["subscription_canceled"] == 1


def test_quantity_change_prorates(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="basic_monthly", quantity=2)
    kit.advance(days=15)
    preview = billing.subscriptions.preview_change(sub, quantity=5, proration="always_invoice")
    changed = billing.subscriptions.change(sub, quantity=5, proration="always_invoice",
                                           proration_date=billing.now())
    assert changed.items[0].quantity == 5
    latest = billing.invoices.get(changed.latest_invoice or "")
    assert latest.total == preview.total and latest.total > 0


def test_two_upgrades_in_one_period_credit_the_full_price_fraction(billing: Billing, plans: Any,
                                                                   card_customer: Any, kit: Any) -> None:
    """gumroad #6077: the second upgrade must credit the unused fraction of the FULL current price."""
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    start = sub.current_period_start
    end = sub.current_period_end
    assert start is not None and end is not None
    period = (end - start).total_seconds()
    totals = []
    for days, new in ((10, "pro_monthly"), (10, "team_monthly")):
        kit.advance(days=days)
        old_amount = {"basic_monthly": 1000, "pro_monthly": 3000}[billing.subscriptions.get(sub.id).price or ""]
        new_amount = {"pro_monthly": 3000, "team_monthly": 9000}[new]
        when = billing.now()
        preview = billing.subscriptions.preview_change(sub, price=new, proration="always_invoice",
                                                       proration_date=when)
        changed = billing.subscriptions.change(sub, price=new, proration="always_invoice", proration_date=when)
        invoice = billing.invoices.get(changed.latest_invoice or "")
        unused = (end - when).total_seconds() / period
        credit = [ln.amount for ln in invoice.lines if ln.proration and ln.amount < 0]
        debit = [ln.amount for ln in invoice.lines if ln.proration and ln.amount > 0]
        assert credit == [-round(old_amount * unused)], (credit, old_amount, unused)
        assert debit == [round(new_amount * unused)]
        assert invoice.total == preview.total
        assert [(ln.amount, ln.proration) for ln in invoice.lines] == [(ln.amount, ln.proration)
                                                                        for ln in preview.lines]
        totals.append(invoice.total)
    assert totals[0] > 0 and totals[1] > 0


def test_double_submitted_create_makes_one_subscription(billing: Billing, plans: Any, card_customer: Any,
                                                        kit: Any) -> None:
    results: list[Any] = []

    def submit() -> None:
        results.append(billing.subscriptions.create(card_customer, price="pro_monthly"))

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.id for r in results}) == 1
    assert len(billing.stripe.v1.subscriptions.list(params={"status": "all"}).data) == 1
    second = billing.subscriptions.create(card_customer, price="pro_monthly")   # a deliberate second one
    assert second.id != results[0].id
    assert len(billing.subscriptions.list("org_card")) == 2


def test_declined_first_payment_is_incomplete_then_expires(billing: Billing, plans: Any, kit: Any) -> None:
    c = billing.customers.create(owner_id="org_decl", email="x@b.co")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": c.id})
    billing.customers.update("org_decl", default_payment_method=pm.id)
    sub = billing.subscriptions.create(c, price="pro_monthly")
    assert sub.status == "incomplete"
    kit.advance(hours=24)
    assert billing.subscriptions.get(sub.id).status == "incomplete_expired"


def test_several_items_and_several_subscriptions(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, items=[{"price": "basic_monthly", "quantity": 3},
                                                             {"price": "pro_monthly"}])
    assert sorted((i.lookup_key, i.quantity) for i in sub.items) == [("basic_monthly", 3), ("pro_monthly", 1)]
    other = billing.subscriptions.create(card_customer, price="pro_yearly")
    assert {s.id for s in billing.subscriptions.list("org_card", active_only=True)} == {sub.id, other.id}
    assert billing.invoices.get(other.latest_invoice or "").total == 30000


def test_downgrade_without_proration(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    kit.advance(days=5)
    changed = billing.subscriptions.change(sub, price="basic_monthly", proration="none")
    assert changed.price == "basic_monthly"
    kit.advance(days=27)
    assert billing.invoices.list("org_card")[0].total == 1000


def test_failed_stripe_call_writes_nothing(billing: Billing, plans: Any, card_customer: Any) -> None:
    from billingos import StripeUnavailableError
    billing.emulator.faults.down = True
    with pytest.raises(StripeUnavailableError):
        billing.subscriptions.create(card_customer, price="pro_monthly")
    billing.emulator.faults.down = False
    assert billing.subscriptions.list("org_card") == []


def test_dual_write_fault_is_healed_by_reconcile(billing: Billing, plans: Any, card_customer: Any) -> None:
    from billingos.domain_events import SubscriptionSynced

    def boom(session: Any, event: Any) -> None:   # the transaction storing it fails, after Stripe made it
        raise RuntimeError("commit lost")

    billing.events.subscribe_in_transaction(SubscriptionSynced, boom)
    try:
        with pytest.raises(RuntimeError):
            billing.subscriptions.create(card_customer, price="pro_monthly")
    finally:
        billing.events._in_transaction[SubscriptionSynced].remove(boom)
    assert len(billing.stripe.v1.subscriptions.list(params={"customer": card_customer.id}).data) == 1
    assert billing.subscriptions.list("org_card") == []
    billing.reconcile()
    subs = billing.subscriptions.list("org_card")
    assert [(s.status, s.price) for s in subs] == [("active", "pro_monthly")]
    assert billing.invoices.list("org_card")[0].status == "paid"


def test_trial_end_with_time_arguments(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly", trial_end=billing.now() + timedelta(days=3))
    assert sub.status == "trialing" and sub.trial_end == billing.now().replace(microsecond=0) + timedelta(days=3)
