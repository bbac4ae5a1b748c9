"""Hypothesis: generated histories driven through the emulator (webhooks delivered as they happen).

- ``mrr(at=t)`` from the ledger equals MRR recomputed from Stripe's own state at ``t`` by an oracle
  written here (Fractions, its own normalisation table, no billingos code);
- the movement identity holds for every interval, by day, week and month, and the intervals chain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from billingos import Billing, FrozenClock
from billingos.stripe_api import plain  # SDK objects to dicts (not analytics code)
from tests.conftest import WEBHOOK_SECRET

PLANS = [("month", 1, 1000), ("month", 1, 2900), ("year", 1, 60000), ("week", 1, 1000), ("month", 3, 25000)]
MONTHS_PER = {"month": Fraction(1), "year": Fraction(1, 12), "week": Fraction(52, 12)}
OPS = st.one_of(
    st.tuples(st.just("subscribe"), st.integers(0, 3), st.integers(0, len(PLANS) - 1), st.integers(1, 4),
              st.booleans()),
    st.tuples(st.just("change"), st.integers(0, 3), st.integers(0, len(PLANS) - 1), st.integers(1, 4),
              st.booleans()),
    st.tuples(st.just("cancel_now"), st.integers(0, 3)),
    st.tuples(st.just("cancel_at_end"), st.integers(0, 3)),
    st.tuples(st.just("fail_card"), st.integers(0, 3)),
    st.tuples(st.just("advance"), st.integers(1, 20)),
)


def oracle(subscriptions: list[dict[str, Any]]) -> int:
    """Stripe's subscriptions as they are now -> MRR in cents, from first principles."""
    total = 0
    for sub in subscriptions:
        if sub["status"] not in ("active", "past_due"):
            continue
        exact = Fraction(0)
        for item in sub["items"]["data"]:
            rec = item["price"]["recurring"]
            exact += Fraction(item["price"]["unit_amount"] * item["quantity"]) * MONTHS_PER[rec["interval"]] \
                / rec["interval_count"]
        total += int(exact + Fraction(1, 2))
    return total


def _all_subs(billing: Billing) -> list[dict[str, Any]]:
    return [plain(s) for s in
            billing.stripe.v1.subscriptions.list(params={"status": "all", "limit": 100}).auto_paging_iter()]


def _run(ops: list[tuple[Any, ...]]) -> tuple[Billing, list[tuple[datetime, int]], datetime]:
    clock = FrozenClock(datetime(2026, 1, 1, 9, tzinfo=UTC))
    billing = Billing(database_url="sqlite://", stripe_emulator=True, clock=clock, webhook_secrets=[WEBHOOK_SECRET])
    billing.migrate()
    billing.testing.connect()
    sc = billing.stripe.v1
    prod = sc.products.create(params={"name": "P"})
    prices = [sc.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": amount,
                                       "recurring": {"interval": iv, "interval_count": n}}).id
              for iv, n, amount in PLANS]
    customers = []
    for n in range(4):
        c = sc.customers.create(params={"email": f"c{n}@b.co"})
        pm = sc.payment_methods.attach("pm_card_visa", params={"customer": c.id})
        sc.customers.update(c.id, params={"invoice_settings": {"default_payment_method": pm.id}})
        customers.append(c.id)
    start = clock.now()
    snapshots = [(clock.now() - timedelta(seconds=1), 0)]
    for op in ops:
        kind, who = op[0], op[1]
        live = [s for s in sc.subscriptions.list(params={"customer": customers[who % 4], "limit": 100}).data
                if s.status in ("active", "past_due", "trialing")] if kind != "advance" else []
        if kind == "subscribe":
            params: dict[str, Any] = {"customer": customers[who], "items": [{"price": prices[op[2]],
                                                                              "quantity": op[3]}]}
            if op[4]:
                params["trial_period_days"] = 5
            sc.subscriptions.create(params=params)
        elif kind == "change" and live:
            item = live[0]["items"]["data"][0]
            sc.subscriptions.update(live[0].id, params={"items": [{"id": item.id, "price": prices[op[2]],
                                                                   "quantity": op[3]}],
                                                        "proration_behavior": "always_invoice" if op[4] else "none"})
        elif kind == "cancel_now" and live:
            sc.subscriptions.cancel(live[0].id)
        elif kind == "cancel_at_end" and live:
            sc.subscriptions.update(live[0].id, params={"cancel_at_period_end": True})
        elif kind == "fail_card":
            pm = sc.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": customers[who]})
            sc.customers.update(customers[who], params={"invoice_settings": {"default_payment_method": pm.id}})
        elif kind == "advance":
            billing.testing.advance(days=op[1])
        snapshots.append((clock.now(), oracle(_all_subs(billing))))
        billing.testing.advance(seconds=1)     # the next step a second later: Stripe's times are whole seconds
    return billing, snapshots, start


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])   # shrinking these histories takes minutes
@given(ops=st.lists(OPS, min_size=1, max_size=7))
def test_mrr_at_any_past_time_equals_stripe_state_then(ops: list[tuple[Any, ...]]) -> None:
    billing, snapshots, start = _run(ops)
    for at, expected in snapshots:
        assert billing.analytics.mrr(at=at).amount == expected, (at, ops)
    end = billing.now() + timedelta(days=1)
    for interval in ("day", "week", "month"):
        report = billing.analytics.movements(start, end, interval=interval)
        for m in report:
            assert (m.mrr_end - m.mrr_start) == m.new + m.expansion + m.reactivation - m.contraction - m.churn
            assert m.fx.amount == 0
            assert m.customers_end == m.customers_start + m.new_customers + m.reactivated_customers \
                - m.churned_customers
        assert [m.mrr_start for m in report[1:]] == [m.mrr_end for m in report[:-1]]
        assert report[-1].mrr_end == billing.analytics.mrr(at=end)
    billing.close()
