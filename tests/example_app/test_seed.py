"""The example's seed (``example_app.seed.seed_history``) leaves what the emulator and billingos's sync would
have: reconcile finds nothing to change, the MRR movements add up every month, the ledger's MRR is the MRR
of the emulator's own subscription states (computed here from its event log, with tier math of our own),
every paid renewal has its local invoice, and the churn model trains on it.

One history (60 customers x 18 months) is built once for the module."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator
from billingos.errors import ConfigurationError, InvalidInputError
from billingos.invoices.models import BillingInvoice
from example_app.catalog import CATALOG_PATH, sync_catalog
from example_app.seed import SeedReport, seed_history

END = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SECRET = "whsec_test_seed_0123456789"


def _billing(path: Path) -> Billing:
    clock = FrozenClock(END)
    billing = Billing(database_url=f"sqlite:///{path}", emulator=Emulator(clock=clock), clock=clock,
                      webhook_secrets=[SECRET])
    billing.migrate()
    sync_catalog(billing, CATALOG_PATH)
    billing.testing.connect()
    billing.testing.drain()
    return billing


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Billing, SeedReport]:
    billing = _billing(tmp_path_factory.mktemp("seed") / "example.db")
    report = seed_history(billing, customers=60, months=18, seed=11, progress=False)
    yield billing, report
    billing.close()


def test_it_ends_at_the_present_and_reports_its_phases(seeded) -> None:
    billing, report = seeded
    assert billing.clock.now() == END
    assert len(report.owners) == 60 and len({o.owner_id for o in report.owners}) == 60
    assert all(o.email and o.name and o.owner_id.startswith("usr_") for o in report.owners)
    assert report.seconds > 0 and set(report.breakdown) >= {"setup", "webhook sync (deliver, store, apply)"}
    assert sum(report.breakdown.values()) <= report.seconds
    assert billing.emulator.webhooks.mode == "immediate"        # the app's delivery is as it was
    endpoints = billing.stripe.v1.webhook_endpoints.list(params={"limit": 100}).data
    assert [e.status for e in endpoints] == ["enabled"]           # the seed's own endpoint is gone


def test_the_history_spans_the_months_and_signups_rise(seeded) -> None:
    billing, _ = seeded
    em = billing.emulator
    customers = em.store.all("customer")
    created = sorted(c["created"] for c in customers)
    start = (END - timedelta(days=18 * 30.4)).timestamp()
    assert len(customers) == 60
    assert created[0] < start + 90 * 86400 and created[-1] > END.timestamp() - 90 * 86400
    half = (start + END.timestamp()) / 2
    assert sum(t >= half for t in created) > sum(t < half for t in created)      # growth
    subs = em.store.all("subscription")
    statuses = {s["status"] for s in subs}
    assert {"active", "canceled"} <= statuses
    intervals = {i["price"]["recurring"]["interval"] for s in subs for i in s["items"]["data"]}
    assert intervals == {"month", "year"}
    assert any(s.get("trial_end") for s in subs)
    invoices = em.store.all("invoice")
    assert sum(i["billing_reason"] == "subscription_cycle" for i in invoices) > 60
    assert any(i["status"] == "paid" and i["attempt_count"] > 1 for i in invoices) or any(
        i["status"] != "paid" and i["attempt_count"] >= 1 for i in invoices)     # failed payments happened


def test_reconcile_finds_nothing_to_change(seeded) -> None:
    billing, _ = seeded
    report = billing.reconcile.run(dry_run=True)
    changes = {k.kind: (k.created, k.updated, k.removed) for k in report.kinds if k.fixed}
    assert changes == {}
    assert {k.kind: k.checked > 0 for k in report.kinds} == {k.kind: True for k in report.kinds}


def test_the_movements_add_up_every_month(seeded) -> None:
    billing, _ = seeded
    start = END - timedelta(days=18 * 31)
    months = billing.analytics.movements(start, END, "month")
    assert len(months) >= 18
    for m in months:
        net = m.new.amount + m.expansion.amount + m.reactivation.amount - m.contraction.amount - m.churn.amount
        assert m.mrr_end.amount - m.mrr_start.amount == net, m
    assert sum(m.new.amount for m in months) > 0 and sum(m.churn.amount for m in months) > 0


def _tiers(tiers: list[dict[str, Any]], quantity: int) -> Fraction:
    """Graduated tiers, written here from Stripe's docs (not billingos's code)."""
    total, done = Fraction(0), 0
    for tier in tiers:
        cap = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
        if cap > done:
            total += Fraction(tier.get("flat_amount") or 0) + Fraction(tier.get("unit_amount") or 0) * (cap - done)
            done = cap
    return total


def _oracle_mrr(em: Emulator, at: datetime) -> dict[str, int]:
    """Each subscription's MRR at ``at`` from the emulator's event log (its last event object at or before
    it), prices as the emulator stores them (tiers included)."""
    ts = at.timestamp()
    last: dict[str, dict[str, Any]] = {}
    for event in em.store.all("event"):
        obj = event["data"]["object"]
        if event["type"].startswith("customer.subscription.") and event["created"] <= ts:
            last[obj["id"]] = obj
    out = {}
    for sub in last.values():
        amount = Fraction(0)
        if sub["status"] in ("active", "past_due") and not sub.get("pause_collection"):
            for item in sub["items"]["data"]:
                price = em.store.objects[item["price"]["id"]]
                if price["recurring"]["usage_type"] == "metered":
                    continue
                q = item.get("quantity") or 1
                each = _tiers(price["tiers"], q) if price.get("tiers") else Fraction(price["unit_amount"]) * q
                amount += each / (12 if price["recurring"]["interval"] == "year" else 1)
        out[sub["id"]] = int(amount + Fraction(1, 2))
    return out


def _dates() -> list[datetime]:
    rng = random.Random(5)
    return [END - timedelta(days=d, seconds=rng.randrange(86400)) for d in (500, 400, 300, 200, 120, 60, 10)] + [END]


def _tiered(em: Emulator, sub_id: str) -> bool:
    sub = em.store.objects[sub_id]
    return any(em.store.objects[i["price"]["id"]].get("tiers") for i in sub["items"]["data"])


def test_each_subscriptions_ledger_mrr_is_the_emulators(seeded) -> None:
    billing, _ = seeded
    em = billing.emulator
    subs = [s["id"] for s in em.store.all("subscription") if not _tiered(em, s["id"])]
    ledgers = {sid: billing.analytics.ledger(subscription=sid, limit=10_000) for sid in subs}
    compared = 0
    for at in _dates():
        oracle = _oracle_mrr(em, at)
        for sid in subs:
            rows = [r for r in ledgers[sid] if r.effective_at <= at]
            ours = rows[-1].mrr_after.amount if rows else 0
            assert ours == oracle.get(sid, 0), (sid, at, ours, oracle.get(sid))
            compared += ours > 0
    assert compared > 50


def test_the_ledger_mrr_is_the_emulators(seeded) -> None:
    billing, _ = seeded
    pairs = [(billing.analytics.mrr(d).amount, sum(_oracle_mrr(billing.emulator, d).values())) for d in _dates()]
    assert pairs[-1][1] > 0
    assert all(ours == theirs for ours, theirs in pairs), pairs


def test_every_paid_invoice_is_mirrored(seeded) -> None:
    billing, _ = seeded
    stripe_paid = {i["id"]: i["amount_paid"] for i in billing.emulator.store.all("invoice") if i["status"] == "paid"}
    with billing.session_factory() as s:
        local = dict(s.execute(select(BillingInvoice.stripe_id, BillingInvoice.amount_paid)
                               .where(BillingInvoice.status == "paid")).all())
    assert len(stripe_paid) > 100
    assert local == stripe_paid
    cycles = [i for i in billing.emulator.store.all("invoice") if i["billing_reason"] == "subscription_cycle"]
    assert all(i["id"] in local or i["status"] != "paid" for i in cycles)


def test_insights_train_on_it(seeded) -> None:
    """A small history: the model trains and says how good it is (bench/seed.py reports it at full size)."""
    billing, _ = seeded
    report = billing.insights.train_churn_model(min_customers=5, min_churn_events=4)
    print(f"churn model on the seeded history (60 customers): ROC AUC {report.roc_auc:.3f}")
    assert 0.0 <= report.roc_auc <= 1.0
    assert billing.insights.score_churn().scored > 0


def test_it_refuses_what_it_cannot_seed(tmp_path: Path) -> None:
    billing = Billing(database_url=f"sqlite:///{tmp_path / 'x.db'}", stripe_emulator=True)
    billing.migrate()
    with pytest.raises(ConfigurationError):
        seed_history(billing, customers=5, months=1, progress=False)       # no FrozenClock
    for bad in ({"customers": 0}, {"customers": "5"}, {"months": 0}, {"months": float("nan")}, {"seed": -1}):
        with pytest.raises(InvalidInputError):
            seed_history(billing, **{"customers": 5, "months": 1, **bad}, progress=False)
    clock = FrozenClock(END)
    bare = Billing(database_url=f"sqlite:///{tmp_path / 'y.db'}", emulator=Emulator(clock=clock), clock=clock)
    bare.migrate()
    with pytest.raises(ConfigurationError, match="catalog"):
        seed_history(bare, customers=5, months=1, progress=False)        # the example's catalog is not synced


def test_a_failure_half_way_puts_everything_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import example_app.seed as seed_module

    billing = _billing(tmp_path / "fail.db")
    calls = {"n": 0}
    real = seed_module._Run.sign_up

    def sign_up(self: Any, p: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        real(self, p)

    monkeypatch.setattr(seed_module._Run, "sign_up", sign_up)
    with pytest.raises(RuntimeError, match="boom"):
        seed_history(billing, customers=6, months=1, progress=False)
    em = billing.emulator
    assert billing.clock.now() == END
    assert em.webhooks.mode == "immediate" and billing.tasks.deferred is False
    assert billing.jobs.queues["webhooks"].batch != seed_module.SEED_BATCH
    endpoints = billing.stripe.v1.webhook_endpoints.list(params={"limit": 100}).data
    assert [e.status for e in endpoints] == ["enabled"]
    billing.close()
