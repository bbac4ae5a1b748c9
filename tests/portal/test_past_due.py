"""The portal's past-due banner and its "update your card" path: a new card is charged at once and the
subscription is active again (dunning, docs/dunning.md)."""

from __future__ import annotations

from billingos.emulator import EmulatorSettings

from .conftest import OWNER, Portal, customer_with_card


def test_past_due_banner_then_update_your_card_recovers(portal: Portal) -> None:
    billing = portal.billing
    billing.emulator.settings = EmulatorSettings(retry_schedule_days=(), after_final_failure="past_due")
    customer = customer_with_card(billing)
    sub = billing.subscriptions.create(customer, price="pro_monthly")
    assert "did not go through" not in portal.get("/billing/portal/").text
    bad = billing.stripe.v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": customer.id})
    billing.customers.update(OWNER, default_payment_method=bad.id)
    billing.testing.advance(days=31)
    page = portal.get("/billing/portal/").text
    assert "Your payment of $30.00 did not go through" in page
    assert "We will try again on 18 Feb 2026" in page or "We will try again on Feb 18, 2026" in page, page[:600]
    assert 'href="/billing/portal/payment-methods"' in portal.get("/billing/portal/").html
    back = portal.add_card("pm_card_mastercard")            # the "update your card" path: made default
    assert back.status == 200 and "Your card was saved." in back.text
    assert billing.subscriptions.get(sub.id).status == "active"
    inv = billing.invoices.list(OWNER)[0]
    assert inv.status == "paid" and billing.dunning.get(inv.id).status == "recovered"
    assert "did not go through" not in portal.get("/billing/portal/").text
