"""What changing a price does to money, as Stripe documents it (issue 8, item 18), with exact amounts.

- A change of billing interval (monthly to yearly) starts a new billing period at once: "If ... the new plan
  has a different billing frequency from the old plan (for example, monthly to yearly ...): The first full
  period of the new plan begins immediately ..., and the customer is charged for the first period less the
  account balance." (https://support.stripe.com/questions/handling-subscription-changes). The anchor moves
  to the change ("Reset the anchor to the current time ... results in the customer being invoiced
  immediately", https://stripe.com/docs/billing/subscriptions/billing-cycle). With prorations on, the
  unused time of the old price is credited on that invoice.
- A change within the same interval keeps the billing period: ``create_prorations`` (the default) creates a
  credit for the unused time on the old price and a debit for the remaining time on the new one, billed on
  the next invoice ("Negative prorations aren't automatically refunded and positive prorations aren't
  immediately billed", https://docs.stripe.com/billing/subscriptions/prorations); ``none`` creates neither,
  so a downgrade gives no credit and the new price starts to count at the next renewal; ``always_invoice``
  invoices the prorations at once.

The subscription starts 15 Jan 2026 12:00 UTC on a 20 USD monthly price (period to 15 Feb: 31 days); every
change happens 10 days in, so 21/31 of the period is unused: 2000 x 21/31 = 1354.84 -> 1355 (credit),
1000 x 21/31 = 677.42 -> 677 (debit of the cheaper price).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billingos.emulator import Emulator

from .billing_kit import DAY, T0, customer, price

CHANGE = T0 + 10 * DAY
RENEWAL = int(datetime(2026, 2, 15, 12, tzinfo=UTC).timestamp())
YEAR_LATER = int(datetime(2027, 1, 25, 12, tzinfo=UTC).timestamp())


def _start(client: Any, emulator: Emulator) -> tuple[Any, Any]:
    pro = price(client, 2000, name="Pro")
    sub = client.v1.subscriptions.create(params={"customer": customer(client).id, "items": [{"price": pro.id}]})
    emulator.advance_to(CHANGE)
    return sub, sub["items"].data[0]


def _change(client: Any, sub: Any, item: Any, new_price: str, behavior: str | None) -> Any:
    params: dict[str, Any] = {"items": [{"id": item.id, "price": new_price}], "expand": ["latest_invoice"]}
    if behavior is not None:
        params["proration_behavior"] = behavior
    return client.v1.subscriptions.update(sub.id, params=params)


def _pending(client: Any, sub: Any) -> list[int]:
    items = client.v1.invoice_items.list(params={"customer": sub.customer, "pending": True}).data
    return sorted(ii.amount for ii in items if ii.invoice is None)


def test_monthly_to_yearly_resets_the_anchor_and_invoices_now_with_a_credit(client: Any, emulator: Emulator) -> None:
    sub, item = _start(client, emulator)
    yearly = price(client, 20000, interval="year", name="Pro yearly")
    upd = _change(client, sub, item, yearly.id, None)
    new_item = upd["items"].data[0]
    assert upd.billing_cycle_anchor == CHANGE
    assert (new_item.current_period_start, new_item.current_period_end) == (CHANGE, YEAR_LATER)
    inv = upd.latest_invoice
    assert inv.id != sub.latest_invoice and inv.created == CHANGE
    assert (inv.billing_reason, inv.status) == ("subscription_update", "paid")
    assert sorted(ln.amount for ln in inv.lines.data) == [-1355, 20000]
    assert (inv.total, inv.amount_paid) == (18645, 18645)
    assert _pending(client, sub) == []


def test_monthly_to_yearly_without_prorations_charges_the_full_year_now(client: Any, emulator: Emulator) -> None:
    sub, item = _start(client, emulator)
    yearly = price(client, 20000, interval="year", name="Pro yearly")
    upd = _change(client, sub, item, yearly.id, "none")
    assert upd.billing_cycle_anchor == CHANGE
    assert [ln.amount for ln in upd.latest_invoice.lines.data] == [20000]
    assert upd.latest_invoice.amount_paid == 20000


def test_a_downgrade_with_prorations_credits_the_unused_time_on_the_next_invoice(
        client: Any, emulator: Emulator) -> None:
    sub, item = _start(client, emulator)
    basic = price(client, 1000, name="Basic")
    upd = _change(client, sub, item, basic.id, "create_prorations")
    assert upd.latest_invoice.id == sub.latest_invoice                 # nothing invoiced now
    assert upd["items"].data[0].price.id == basic.id                    # the new price applies at once
    assert upd["items"].data[0].current_period_end == RENEWAL           # the period is kept
    assert _pending(client, sub) == [-1355, 677]
    emulator.advance_to(RENEWAL)
    renewal = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert sorted(ln.amount for ln in renewal.lines.data) == [-1355, 677, 1000]
    assert (renewal.total, renewal.amount_paid) == (322, 322)


def test_a_downgrade_without_prorations_gives_no_credit(client: Any, emulator: Emulator) -> None:
    sub, item = _start(client, emulator)
    basic = price(client, 1000, name="Basic")
    upd = _change(client, sub, item, basic.id, "none")
    assert upd.latest_invoice.id == sub.latest_invoice
    assert _pending(client, sub) == []
    emulator.advance_to(RENEWAL)
    renewal = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert [ln.amount for ln in renewal.lines.data] == [1000]


def test_a_downgrade_with_always_invoice_credits_now_and_the_balance_pays_the_renewal(
        client: Any, emulator: Emulator) -> None:
    sub, item = _start(client, emulator)
    basic = price(client, 1000, name="Basic")
    upd = _change(client, sub, item, basic.id, "always_invoice")
    now = upd.latest_invoice
    assert now.id != sub.latest_invoice and now.created == CHANGE
    assert sorted(ln.amount for ln in now.lines.data) == [-1355, 677]
    assert (now.total, now.amount_due, now.status, now.ending_balance) == (-678, 0, "paid", -678)
    assert client.v1.customers.retrieve(sub.customer).balance == -678   # a credit, not a refund
    emulator.advance_to(RENEWAL)
    renewal = client.v1.invoices.retrieve(client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert (renewal.total, renewal.starting_balance, renewal.amount_due) == (1000, -678, 322)


def test_an_upgrade_with_always_invoice_charges_the_difference_now(client: Any, emulator: Emulator) -> None:
    sub, item = _start(client, emulator)
    team = price(client, 5000, name="Team")
    upd = _change(client, sub, item, team.id, "always_invoice")
    assert sorted(ln.amount for ln in upd.latest_invoice.lines.data) == [-1355, 3387]   # 5000 x 21/31 = 3387.10
    assert upd.latest_invoice.amount_paid == 2032
    assert upd["items"].data[0].current_period_end == RENEWAL
