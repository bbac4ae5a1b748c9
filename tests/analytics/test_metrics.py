"""Rates, cohorts, currencies, series and exports over small histories driven through the emulator."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from billingos import Billing, MissingRateError, Money


def _usd(cents: int) -> Money:
    return Money(cents, "usd")


def test_currencies_convert_with_dated_rates_and_fx_is_its_own_movement(
        billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any], kit: Any) -> None:
    subscribe(shop["monthly_100"])                                        # Jan 15: $100
    subscribe(shop["eur_monthly"])                                        # Jan 15: €50
    with pytest.raises(MissingRateError) as err:
        billing.analytics.mrr()
    assert "EUR" in str(err.value)
    billing.analytics.set_rate("eur", Decimal("1.10"), on=date(2026, 1, 1))
    billing.analytics.set_rate("EUR", "1.20", on=date(2026, 2, 1))
    assert billing.analytics.rates() == {"eur": [(date(2026, 1, 1), Decimal("1.1")), (date(2026, 2, 1),
                                                                                       Decimal("1.2"))]}
    assert billing.analytics.mrr() == _usd(15500)
    kit.advance(days=20)                                                   # Feb 4
    assert billing.analytics.mrr() == _usd(16000)
    jan, feb = billing.analytics.movements(date(2026, 1, 1), date(2026, 3, 1))
    assert (jan.new, jan.fx, jan.mrr_end) == (_usd(15500), _usd(0), _usd(15500))
    assert (feb.new, feb.expansion, feb.fx, feb.mrr_end) == (_usd(0), _usd(0), _usd(500), _usd(16000))
    [top, second] = billing.analytics.top_customers()
    assert (top.mrr, second.mrr, second.mrr_native) == (_usd(10000), _usd(6000), Money(5000, "eur"))


def test_cohort_matrix_nrr_and_grr(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any],
                                   kit: Any) -> None:
    sc = billing.stripe.v1
    a = subscribe(shop["monthly_100"])
    b = subscribe(shop["monthly_100"])                                    # January cohort: $200
    kit.advance(days=20)                                                   # Feb 4: a doubles
    item = sc.subscriptions.retrieve(a.id)["items"]["data"][0]
    sc.subscriptions.update(a.id, params={"items": [{"id": item.id, "quantity": 2}]})
    kit.advance(days=30)                                                   # Mar 6: b leaves
    sc.subscriptions.cancel(b.id)
    kit.advance(days=1)
    subscribe(shop["weekly_10"])                                          # March cohort
    [jan, mar] = billing.analytics.cohorts(date(2026, 1, 1), date(2026, 4, 1))
    assert (jan.start.date(), jan.size, jan.mrr) == (date(2026, 1, 1), 2, _usd(20000))
    assert jan.nrr == (Decimal(1), Decimal("1.5"), Decimal(1))
    assert jan.grr == (Decimal(1), Decimal(1), Decimal("0.5"))
    assert jan.customers == (2, 2, 1)
    assert (mar.start.date(), mar.size, mar.mrr, mar.nrr) == (date(2026, 3, 1), 1, _usd(4333), (Decimal(1),))
    rows = list(csv.reader(io.StringIO(billing.analytics.export("cohorts", date(2026, 1, 1), date(2026, 4, 1)))))
    assert rows[0][:3] == ["cohort", "month", "customers"] and rows[3][5:] == ["1.000000", "0.500000"]


def test_rates_arpa_ltv_quick_ratio(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any],
                                    kit: Any) -> None:
    subs = [subscribe(shop["monthly_100"]) for _ in range(4)]             # Jan 15
    assert billing.analytics.arpa() == _usd(10000)
    assert billing.analytics.ltv() is None                                  # no churn yet: undefined
    kit.advance(days=20)                                                   # Feb 4
    billing.stripe.v1.subscriptions.cancel(subs[0].id)
    subscribe(shop["yearly_600"])
    [feb] = billing.analytics.movements(date(2026, 2, 1), date(2026, 3, 1))
    assert (feb.customer_churn_rate, feb.gross_mrr_churn) == (Decimal("0.25"), Decimal("0.25"))
    assert feb.net_mrr_churn == Decimal("0.25") and feb.quick_ratio == Decimal("0.5")
    kit.advance(days=30)                                                   # Mar 6
    # ARPA $87.50 (4 customers, $350); churn in Feb 25%, none in the five months before: mean 12.5%
    # over the months with paying customers at their start (Feb only has a start base: Jan had none).
    assert billing.analytics.arpa() == _usd(8750)
    assert billing.analytics.ltv() == _usd(35000)


def test_trial_conversion_and_series_with_previous_period(
        billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any], kit: Any) -> None:
    subscribe(shop["monthly_100"], trial_period_days=7)
    subscribe(shop["monthly_100"], trial_period_days=7, card=False,
              trial_settings={"end_behavior": {"missing_payment_method": "cancel"}})
    kit.advance(days=10)
    start = date(2026, 1, 15)
    assert billing.analytics.trial_conversion(start, start + timedelta(days=30)) == Decimal("0.5")
    points = billing.analytics.series("mrr", date(2026, 1, 1), date(2026, 1, 29), interval="week")
    assert [p.value for p in points] == [_usd(0), _usd(0), _usd(0), _usd(10000)]      # converted Jan 22
    assert [p.previous for p in points] == [_usd(0)] * 4
    csv_text = billing.analytics.export("new", date(2026, 1, 1), date(2026, 2, 1), interval="week")
    assert csv_text.splitlines()[0] == "start,end,new,previous"
    assert csv_text.splitlines()[4].split(",")[2:] == ["100.00", "0.00"]


def test_failed_payment_recovery_rate(billing: Billing, shop: dict[str, str], subscribe: Callable[..., Any],
                                      kit: Any) -> None:
    sc = billing.stripe.v1
    saved, lost = subscribe(shop["monthly_100"]), subscribe(shop["weekly_10"])
    for sub in (saved, lost):
        fail = sc.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": sub.customer})
        sc.customers.update(sub.customer, params={"invoice_settings": {"default_payment_method": fail.id}})
    kit.advance(days=7)                                   # the weekly renewal fails (Jan 22)
    kit.advance(days=25)                                  # the monthly one too (Feb 15)
    good = sc.payment_methods.attach("pm_card_visa", params={"customer": saved.customer})
    sc.customers.update(saved.customer, params={"invoice_settings": {"default_payment_method": good.id}})
    failed = [i for i in sc.invoices.list(params={"customer": saved.customer}).data if i.status == "open"]
    sc.invoices.pay(failed[0].id)                          # recovered
    start, end = date(2026, 1, 16), date(2026, 3, 1)
    assert billing.analytics.recovery_rate(start, end) == Decimal(0)   # the recovered one's window is open
    kit.advance(days=12)

    def counted(i: Any) -> bool:           # the rule, restated: window closed, failed at least once
        closed = i.created <= int(billing.now().timestamp()) - 10 * 86400
        in_range = 1768521600 <= i.created < 1772323200                 # Jan 16 .. Mar 1, 2026
        return closed and in_range and i.amount_due > 0 and (i.attempt_count > 1 if i.status == "paid"
                                                              else i.attempt_count >= 1)
    invoices = [i for s in (saved, lost) for i in sc.invoices.list(params={"customer": s.customer}).data
                if counted(i)]
    recovered = sum(i.amount_due for i in invoices if i.status == "paid")
    assert recovered == 10000
    expected = (Decimal(recovered) / sum(i.amount_due for i in invoices)).quantize(Decimal("0.000001"))
    assert billing.analytics.recovery_rate(start, end) == expected and Decimal(0) < expected < Decimal(1)
