"""Data-subject requests on SQLite and PostgreSQL: ``customers.export_personal_data`` and ``customers.erase``.

The erasure is checked by an oracle that shares no code with the eraser: it reflects the database's own
tables and searches every column, as text, for the person's strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from billingos import Actor, Billing, InvalidInputError, NotFoundError, signals
from billingos.insights import BillingInsight

ADMIN = Actor(kind="admin", id="dpo", request_id="req_1", client_address="198.51.100.7")


@dataclass
class Person:
    owner: str
    email: str
    name: str
    phone: str
    ip: str
    customer: str = ""
    subscription: str = ""


ALICE = Person("org_alice", "alice.liddell@wonder.example", "Alice Liddell", "+44 20 7946 0958", "203.0.113.9")
BOB = Person("org_bob", "bob.builder@yard.example", "Bob Builder", "+44 20 7946 0111", "203.0.113.10")


def _person(billing: Billing, p: Person, price: str) -> Person:
    c = billing.customers.create(owner_id=p.owner, email=p.email, name=p.name, payment_method="pm_card_visa")
    billing.stripe.v1.customers.update(c.id, params={"phone": p.phone, "address": {
        "line1": f"1 {p.name} Lane", "city": "Oxford", "postal_code": "OX1 1AA", "country": "GB"}})
    sub = billing.subscriptions.create(p.owner, price=price)
    billing.subscriptions.cancel(sub, feedback="too_expensive", comment=f"ask {p.name} about the price",
                                 actor=Actor(kind="owner", id=p.owner, client_address=p.ip))
    billing.api_keys.create(f"{p.name}'s laptop", ["billing:read"], owner_id=p.owner, actor=ADMIN)
    billing.notifications.send("payment_recovered", to=p.email, key=f"recovered:{p.owner}",
                               context={"amount": 1000, "currency": "usd", "invoice_number": "X-1"})
    billing.entitlements.grant(p.owner, "sso", reason=f"promised to {p.email} on the phone", actor=ADMIN)
    with billing.transaction() as s:       # an insight the scorer would write, then an admin's note on it
        insight = BillingInsight(kind="churn_risk", owner_id=p.owner, dedupe_key=f"churn:{p.owner}",
                                 message=f"{p.name} may churn", data={"email": p.email}, state="new",
                                 created_at=billing.now())
        s.add(insight)
    billing.insights.act(insight.id, by="dpo", note=f"called {p.name}", actor=ADMIN)
    return Person(p.owner, p.email, p.name, p.phone, p.ip, c.id, sub.id)


@pytest.fixture
def people(billing: Billing) -> tuple[Person, Person]:
    billing.testing.connect()               # every Stripe change also arrives as a stored webhook event
    billing.stripe.v1.entitlements.features.create(params={"name": "SSO", "lookup_key": "sso"})
    prod = billing.stripe.v1.products.create(params={"name": "Pro"})
    billing.stripe.v1.prices.create(params={"product": prod.id, "currency": "usd", "unit_amount": 1000,
                                            "lookup_key": "pro_monthly", "recurring": {"interval": "month"}})
    return _person(billing, ALICE, "pro_monthly"), _person(billing, BOB, "pro_monthly")


def _hits(billing: Billing, *needles: str) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every billing_ column whose text holds a needle (case-insensitive)."""
    found = set()
    db = inspect(billing.engine)
    with billing.engine.connect() as conn:
        for table in (t for t in db.get_table_names() if t.startswith("billing_")):
            columns = [c["name"] for c in db.get_columns(table)
                       if not any(b in str(c["type"]).upper() for b in ("BLOB", "BYTEA"))]
            cells = ", ".join(f'lower(CAST("{c}" AS TEXT))' for c in columns)
            for row in conn.execute(text(f'SELECT {cells} FROM "{table}"')):
                found.update((table, column, needle) for column, cell in zip(columns, row, strict=True)
                             for needle in needles if cell is not None and needle.lower() in cell)
    return sorted(found)


def _money(billing: Billing) -> tuple[Any, ...]:
    with billing.engine.connect() as conn:
        invoices = conn.execute(text("SELECT stripe_id, total, amount_paid, amount_due, tax, currency, status "
                                     "FROM billing_invoices ORDER BY stripe_id")).all()
        ledger = conn.execute(text("SELECT id, mrr_before, mrr_after, currency, cause FROM "
                                   "billing_subscription_ledger ORDER BY id")).all()
    return invoices, ledger, billing.analytics.mrr()


def test_export_holds_the_owner_and_none_of_another(billing: Billing, people: tuple[Person, Person]) -> None:
    alice, bob = people
    data = billing.customers.export_personal_data(alice.owner)
    dumped = json.dumps(data)                           # JSON-serialisable as it is
    assert data["customer"]["email"] == alice.email and data["customer"]["name"] == alice.name
    assert data["customer"]["phone"] == alice.phone and data["customer"]["address"]["city"] == "Oxford"
    assert [s["stripe_id"] for s in data["subscriptions"]] == [alice.subscription]
    assert data["invoices"] and {i["customer_email"] for i in data["invoices"]} == {alice.email}
    assert sum(i["amount_paid"] for i in data["invoices"]) == 1000
    assert [(c["brand"], c["last4"]) for c in data["payment_methods"]] == [("visa", "4242")]
    assert set(data["payment_methods"][0]) == {"stripe_id", "type", "brand", "last4", "exp_month", "exp_year",
                                               "detached", "stripe_created"}
    assert [f["comment"] for f in data["cancellation_feedback"]] == [f"ask {alice.name} about the price"]
    assert [(n["template"], n["to"]) for n in data["notifications"]] == [("payment_recovered", alice.email)]
    assert [k["name"] for k in data["api_keys"]] == [f"{alice.name}'s laptop"]
    actions = {e["action"] for e in data["audit_log"]}
    assert "api_key.created" in actions and any(a.startswith("subscription.") for a in actions)
    for other in (bob.email, bob.name, bob.customer, bob.subscription, bob.owner, bob.phone):
        assert other not in dumped
    with pytest.raises(NotFoundError):
        billing.customers.export_personal_data("org_nobody")
    with pytest.raises(InvalidInputError):
        billing.customers.export_personal_data(42)  # type: ignore[arg-type]


def test_erase_leaves_no_trace_and_keeps_the_money(billing: Billing, people: tuple[Person, Person]) -> None:
    alice, bob = people
    everywhere = {"billing_customers", "billing_invoices", "billing_jobs", "billing_webhook_events",
                  "billing_entitlements", "billing_insights", "billing_audit_events"}
    assert {t for t, _, _ in _hits(billing, alice.email)} >= everywhere   # the oracle sees the person first
    billing.customers.update(alice.owner, email="a.liddell@new.example")   # the old one stays on invoices, emails
    money = _money(billing)
    done = billing.customers.erase(alice.owner, actor=ADMIN)
    assert (done.owner_id, done.customer_id, done.already_erased, done.deleted_in_stripe) == \
        (alice.owner, alice.customer, False, False)
    assert _hits(billing, alice.email, "a.liddell@new.example", alice.name, alice.phone, f"1 {alice.name} Lane",
                 alice.ip) == []
    assert _money(billing) == money                     # invoices, the MRR ledger and MRR itself unchanged
    assert {t for t, _, _ in _hits(billing, bob.email, bob.name)} >= everywhere      # the other owner is intact
    got = billing.customers.get(owner_id=alice.owner)
    assert (got.email, got.name, got.id) == (None, None, alice.customer)
    assert billing.subscriptions.get(alice.subscription).id == alice.subscription
    entries = billing.audit.list(action="customer.erased").items
    assert [(e.owner_id, e.target_id, e.actor_id, e.after) for e in entries] == \
        [(alice.owner, alice.customer, "dpo", {"erased": True, "deleted_in_stripe": False})]
    cancel = [e for e in billing.audit.list(owner_id=alice.owner).items if e.actor_kind == "owner"]
    assert cancel and all(e.client_address is None and e.action.startswith("subscription.") for e in cancel)
    export = billing.customers.export_personal_data(alice.owner)
    assert export["customer"]["erased_at"] is not None and alice.email not in json.dumps(export)
    assert [n["to"] for n in export["notifications"]] == []


def test_a_later_customer_webhook_does_not_bring_the_person_back(billing: Billing,
                                                                 people: tuple[Person, Person]) -> None:
    alice, _ = people
    billing.customers.erase(alice.owner)
    seen = {e.id for e in billing.webhooks.events(limit=100)}
    # Stripe still has the person: any change sends the whole customer, email and name included
    billing.stripe.v1.customers.update(alice.customer, params={"metadata": {"plan_note": "vip"}})
    late = [e for e in billing.webhooks.events(limit=100) if e.id not in seen]
    assert [(e.type, e.status) for e in late] == [("customer.updated", "processed")]
    got = billing.customers.get(owner_id=alice.owner)
    assert (got.email, got.name) == (None, None)
    assert billing.customers.sync(billing.stripe.v1.customers.retrieve(alice.customer)).email is None
    assert _hits(billing, alice.email, alice.name, alice.phone) == []


def test_the_signal_fires_once_and_erasing_twice_is_fine(billing: Billing, people: tuple[Person, Person]) -> None:
    alice, _ = people
    seen: list[tuple[Any, ...]] = []

    def on_erased(sender: Billing, **kw: Any) -> None:
        seen.append((sender is billing, kw["owner_id"], kw["customer_id"], kw["deleted_in_stripe"],
                     sender.customers.get(owner_id=kw["owner_id"]).email))   # after the commit

    signals.customer_erased.connect(on_erased)
    try:
        first = billing.customers.erase(alice.owner)
        again = billing.customers.erase(alice.owner)
    finally:
        signals.customer_erased.disconnect(on_erased)
    assert seen == [(True, alice.owner, alice.customer, False, None)]
    assert (first.already_erased, again.already_erased) == (False, True)
    assert len(billing.audit.list(action="customer.erased").items) == 1
    assert _hits(billing, alice.email) == []


@pytest.mark.parametrize("call", [
    lambda b: b.customers.erase("org_nobody"),
    lambda b: b.customers.erase(None),
    lambda b: b.customers.erase("org_alice", delete_in_stripe="yes"),
    lambda b: b.customers.erase("org_alice", actor="dpo"),
    lambda b: b.customers.erase(" org_alice"),
])
def test_bad_input_is_typed_and_writes_nothing(billing: Billing, people: tuple[Person, Person], call: Any) -> None:
    alice, _ = people
    before = _hits(billing, alice.email)
    with pytest.raises((NotFoundError, InvalidInputError)) as raised:
        call(billing)
    assert raised.value.to_problem()["detail"]
    assert _hits(billing, alice.email) == before
    assert billing.audit.list(action="customer.erased").items == []
    assert billing.stripe.v1.customers.retrieve(alice.customer).to_dict().get("deleted") is None


def test_delete_in_stripe_deletes_the_customer_there_too(billing: Billing, people: tuple[Person, Person]) -> None:
    alice, bob = people
    done = billing.customers.erase(alice.owner, delete_in_stripe=True)
    assert done.deleted_in_stripe is True
    assert billing.stripe.v1.customers.retrieve(alice.customer).to_dict().get("deleted") is True
    types = [e.type for e in billing.webhooks.events(limit=20)]
    assert "customer.deleted" in types
    assert billing.customers.list(include_deleted=True, email=None).items[0].deleted
    assert _hits(billing, alice.email, alice.name, alice.phone) == []
    again = billing.customers.erase(alice.owner, delete_in_stripe=True)     # deleted already: still fine
    assert again.already_erased and again.deleted_in_stripe
    assert billing.customers.get(owner_id=bob.owner).email == bob.email


def test_events_delivered_after_the_erasure_are_redacted_too(billing: Billing,
                                                             people: tuple[Person, Person]) -> None:
    alice, _ = people
    billing.testing.connect(mode="manual")      # Stripe's customer.deleted arrives after the local commit
    billing.customers.erase(alice.owner, delete_in_stripe=True)
    assert billing.testing.drain() >= 1
    assert billing.customers.list(include_deleted=True).items[0].deleted
    assert _hits(billing, alice.email, alice.name, alice.phone) == []


def test_the_audit_log_lets_an_erasure_clear_but_not_rewrite(billing: Billing,
                                                            people: tuple[Person, Person]) -> None:
    with billing.engine.connect() as conn:
        for statement in ("UPDATE billing_audit_events SET action = 'x.y'",
                          "UPDATE billing_audit_events SET owner_id = 'someone'",
                          "UPDATE billing_audit_events SET client_address = '192.0.2.1'",
                          "DELETE FROM billing_audit_events"):
            with pytest.raises(DatabaseError, match="append-only"):
                conn.execute(text(statement))
            conn.rollback()
        conn.execute(text("UPDATE billing_audit_events SET client_address = NULL, after = NULL"))
        conn.rollback()
