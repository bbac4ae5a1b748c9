"""Issue 8 item 18 (library side): preview_change says when Stripe bills the change, as Stripe documents it.

- An interval change (monthly to yearly) resets the billing cycle anchor and is invoiced at once, with the
  unused time credited: the preview says ``invoiced_now``, ``resets_billing_cycle`` and ``amount_due_now``.
- A downgrade applied at once with ``prorate`` (``create_prorations``) credits the unused time on the
  next invoice: the preview says ``invoiced_at`` = the period end and nothing is due now.
Each is checked against the invoice Stripe (the emulator) then actually issues."""

from __future__ import annotations

from typing import Any

from billingos import Billing


def test_monthly_to_yearly_is_invoiced_now_and_resets_the_cycle(billing: Billing, plans: Any,
                                                                  card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="pro_monthly")
    kit.advance(days=10)
    when = billing.now()
    preview = billing.subscriptions.preview_change(sub, price="pro_yearly", proration="prorate",
                                                   proration_date=when)
    assert preview.invoiced_now and preview.resets_billing_cycle and preview.invoiced_at == when
    assert preview.amount_due_now == preview.amount_due > 0
    credit = [ln.amount for ln in preview.lines if ln.proration and ln.amount < 0]
    assert len(credit) == 1 and -3000 < credit[0] < 0             # the unused monthly time, credited
    changed = billing.subscriptions.change(sub, price="pro_yearly", proration="prorate", proration_date=when)
    assert changed.current_period_start == when                   # the cycle restarted at the change
    invoice = billing.invoices.get(changed.latest_invoice or "")
    assert invoice.created == when and invoice.total == preview.total
    assert [(ln.amount, ln.proration) for ln in invoice.lines] == [(ln.amount, ln.proration) for ln in preview.lines]


def test_a_downgrade_applied_now_credits_on_the_next_invoice(billing: Billing, plans: Any, card_customer: Any,
                                                            kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="team_monthly")
    end = sub.current_period_end
    kit.advance(days=10)
    when = billing.now()
    preview = billing.subscriptions.preview_change(sub, price="basic_monthly", proration="prorate",
                                                   proration_date=when)
    assert not preview.invoiced_now and not preview.resets_billing_cycle
    assert preview.amount_due_now == 0 and preview.invoiced_at == end and preview.effective_at == when
    credit = [ln.amount for ln in preview.lines if ln.proration and ln.amount < 0]
    assert len(credit) == 1 and credit[0] < 0
    changed = billing.subscriptions.change(sub, price="basic_monthly", proration="prorate", proration_date=when)
    assert changed.latest_invoice == sub.latest_invoice            # nothing invoiced now
    kit.advance(days=25)                                            # past the renewal
    renewal = billing.invoices.get(billing.subscriptions.get(sub.id).latest_invoice or "")
    assert [ln.amount for ln in renewal.lines if ln.proration and ln.amount < 0] == credit
    assert renewal.total == preview.total


def test_always_invoice_and_none_say_when(billing: Billing, plans: Any, card_customer: Any, kit: Any) -> None:
    sub = billing.subscriptions.create(card_customer, price="basic_monthly")
    kit.advance(days=5)
    now = billing.subscriptions.preview_change(sub, price="pro_monthly", proration="always_invoice")
    assert now.invoiced_now and now.amount_due_now == now.amount_due > 0 and not now.resets_billing_cycle
    later = billing.subscriptions.preview_change(sub, price="pro_monthly", proration="none")
    assert not later.invoiced_now and later.amount_due_now == 0 and later.invoiced_at == sub.current_period_end
    assert not any(ln.proration for ln in later.lines)
