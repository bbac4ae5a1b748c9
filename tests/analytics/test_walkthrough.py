"""ChartMogul's documented MRR walkthrough, driven through the emulator and its clock (webhooks delivered
as they happen), read back as monthly movements."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from billingos import Billing, Money


def _usd(cents: int) -> Money:
    return Money(cents, "usd")


def test_chartmogul_walkthrough(billing: Billing, kit: Any) -> None:
    sc = billing.stripe.v1
    prod = sc.products.create(params={"name": "Plans"})
    gold = sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 50000,
                                    "recurring": {"interval": "year"}}).id
    silver = sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 5000,
                                      "recurring": {"interval": "month"}}).id
    cust = sc.customers.create(params={"email": "walk@b.co", "metadata": {"billingos_owner_id": "org_walk"}}).id
    pm = sc.payment_methods.attach("pm_card_visa", params={"customer": cust})
    sc.customers.update(cust, params={"invoice_settings": {"default_payment_method": pm.id}})

    golds = sc.subscriptions.create(params={"customer": cust, "items": [{"price": gold, "quantity": 4}]})  # Jan 15
    assert billing.analytics.mrr() == _usd(16667)                 # $2,000 a year: $166.67 of new business
    kit.advance(days=26)                                          # Feb 10
    silvers = sc.subscriptions.create(params={"customer": cust, "items": [{"price": silver, "quantity": 2}]})
    kit.advance(days=38)                                          # Mar 20, mid-cycle
    sc.subscriptions.cancel(silvers.id)
    kit.advance(days=16)                                          # Apr 5: Gold set to end with its paid year
    sc.subscriptions.update(golds.id, params={"cancel_at_period_end": True})
    assert billing.analytics.mrr() == _usd(16667)                 # still paid up to Jan 15, 2027
    kit.advance(days=300)                                         # Jan 30, 2027: the year ended
    assert billing.analytics.mrr() == _usd(0)
    kit.advance(days=40)                                          # Mar 11, 2027: back
    sc.subscriptions.create(params={"customer": cust, "items": [{"price": gold, "quantity": 4}]})

    report = billing.analytics.movements(date(2026, 1, 1), date(2027, 4, 1))
    by_month = {(m.start.year, m.start.month): m for m in report}
    assert len(report) == 15
    jan, feb, mar, apr = (by_month[(2026, n)] for n in (1, 2, 3, 4))
    assert (jan.new, jan.customers_end) == (_usd(16667), 1)
    assert (feb.expansion, feb.new) == (_usd(10000), _usd(0))
    assert (mar.contraction, mar.churn) == (_usd(10000), _usd(0))
    assert apr.net_new == _usd(0) and apr.churn == _usd(0)
    jan27, mar27 = by_month[(2027, 1)], by_month[(2027, 3)]
    assert (jan27.churn, jan27.churned_customers, jan27.customer_churn_rate) == (_usd(16667), 1, 1)
    assert (mar27.reactivation, mar27.reactivated_customers, mar27.new) == (_usd(16667), 1, _usd(0))
    for m in report:
        assert m.mrr_end - m.mrr_start == m.net_new + m.fx and m.fx == _usd(0)
    # The churn lands at the end of the paid period (Jan 15, 2027), from Stripe's ended_at.
    ended = [e for e in billing.analytics.ledger(subscription=golds.id) if e.cause == "canceled"]
    assert [e.effective_at for e in ended] == [datetime(2027, 1, 15, 12, tzinfo=UTC)]
    assert [(e.cause, e.mrr_after) for e in billing.analytics.ledger(customer=cust)][-1] == ("new", _usd(16667))
