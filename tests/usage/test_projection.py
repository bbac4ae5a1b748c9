"""billing.usage.projected_invoice: rated with billingos.pricing, it equals the emulator's invoice at the
period end; its totals are the sums of its lines."""

from __future__ import annotations

from datetime import timedelta

from billingos import Billing


def _subscribe(billing: Billing, *prices: str):  # type: ignore[no-untyped-def]
    customer = billing.customers.create(owner_id="org_1", email="a@b.co")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    customer = billing.customers.update("org_1", default_payment_method=pm.id)
    return billing.subscriptions.create(customer, price=prices[0]) if len(prices) == 1 else \
        billing.subscriptions.create(customer, items=[{"price": p} for p in prices])


def test_projection_before_usage(catalog: Billing) -> None:
    _subscribe(catalog, "pro_api_calls")
    inv = catalog.usage.projected_invoice("org_1")
    (line,) = inv.lines
    assert (line.metered, line.quantity, line.amount, line.projected_amount) == (True, 0, 500, 500)
    assert inv.amount_so_far == 500 and inv.currency == "usd"
    assert catalog.usage.projected_invoice("org_2").lines == ()


def test_projection_scales_usage_to_the_period_end(catalog: Billing) -> None:
    sub = _subscribe(catalog, "pro_api_calls")
    length = sub.current_period_end - sub.current_period_start
    catalog.clock.advance(length / 4)
    catalog.usage.track("org_1", "api_calls", 700, "a")
    (line,) = catalog.usage.projected_invoice("org_1").lines
    assert (line.quantity, line.amount) == (700, 500)
    assert line.projected_quantity == 2800                         # 700 in a quarter of the period
    assert line.projected_amount == 500 + 900                       # 1800 units above 1000 at 0.5 cents


def test_projected_invoice_equals_the_emulators_invoice(catalog: Billing) -> None:
    sub = _subscribe(catalog, "pro_api_calls")
    usage = catalog.usage
    end = sub.current_period_end
    for day in range(0, 30, 3):
        catalog.testing.advance(days=3)
        usage.track("org_1", "api_calls", 100 + day * 7, f"day{day}")
        usage.push()
    catalog.testing.advance(end - catalog.now() - timedelta(hours=2))
    usage.track("org_1", "api_calls", 333, "last")
    usage.push()
    projected = usage.projected_invoice("org_1")
    total = sum(100 + d * 7 for d in range(0, 30, 3)) + 333
    (line,) = projected.lines
    assert line.quantity == total
    assert total == 2278
    assert projected.amount_so_far == line.amount == 500 + 639        # 1278 units above 1000 at 0.5 cents
    catalog.testing.advance(hours=3)                                # the renewal invoice is made
    fresh = catalog.stripe.v1.subscriptions.retrieve(sub.id)
    invoice = catalog.stripe.v1.invoices.retrieve(fresh.latest_invoice)
    metered = [ln for ln in invoice.lines.data if ln.period.end == int(end.timestamp())]
    assert [ln.quantity for ln in metered] == [total]
    assert sum(ln.amount for ln in metered) == projected.amount_so_far
    assert invoice.subtotal == projected.amount_so_far


def test_licensed_and_metered_together(catalog: Billing) -> None:
    sub = _subscribe(catalog, "pro_monthly", "pro_api_calls")
    catalog.usage.track("org_1", "api_calls", 1201, "a")
    catalog.usage.push()
    inv = catalog.usage.projected_invoice("org_1")
    assert [(ln.metered, ln.amount) for ln in inv.lines] == [(False, 2000), (True, 500 + 101)]  # 100.5 -> 101
    assert inv.amount_so_far == sum(ln.amount for ln in inv.lines) == 2601
    assert inv.projected_total == sum(ln.projected_amount for ln in inv.lines)
    catalog.testing.advance(sub.current_period_end - catalog.now() + timedelta(hours=1))
    invoice = catalog.stripe.v1.invoices.retrieve(catalog.stripe.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert invoice.subtotal == inv.amount_so_far
