"""billing.admin and billing.refunds without pages: keyset paging against an independent oracle, the search
rules, the timeline's order, refunds and credit notes with their limits (nothing written when refused)."""

from __future__ import annotations

import pytest

from billingos import ConflictError, InvalidInputError

from .conftest import World


def _walk(world: World, **filters: object) -> list[str]:
    seen, after = [], None
    for _ in range(100):
        page = world.billing.admin.customers(limit=2, after=after, **filters)  # type: ignore[arg-type]
        seen.extend(r.customer.owner_id for r in page.items)
        if page.next_cursor is None:
            return seen
        after = page.next_cursor
    raise AssertionError("paging did not end")


def test_keyset_pages_walk_every_match_once_newest_first(world: World) -> None:
    made = [world.billing.customers.create(owner_id=f"org_k{i}", email=f"k{i}@keyset.test", name=f"K {i}").owner_id
            for i in range(7)]
    # the oracle: creation order reversed (not the service's own query)
    assert _walk(world) == [*reversed(made), "org_bob", "org_alice"]
    assert _walk(world, search="k") == list(reversed(made))
    assert _walk(world, search="k3@") == ["org_k3"]
    world.billing.customers.delete("org_k5")
    assert "org_k5" not in _walk(world)
    with pytest.raises(InvalidInputError) as err:
        world.billing.admin.customers(after="YzpA")        # customers.list()'s cursor is not this list's
    assert err.value.param == "after"


def test_search_rules(world: World) -> None:
    admin = world.billing.admin
    ids = lambda **f: [r.customer.id for r in admin.customers(**f).items]  # noqa: E731
    assert ids(search="ALICE") == [world.alice.id]                     # email or name prefix, any case
    assert ids(search="lice") == []                                    # a prefix, not a substring
    assert ids(search="org_alice") == [world.alice.id]                 # owner id: exact
    assert ids(search="org_ali") == []
    assert ids(search=world.bob.id) == [world.bob.id]
    assert ids(search="bob@example.org") == [world.bob.id]
    row = admin.customers(search="alice").items[0]
    assert (row.status, row.subscription) == ("active", world.subscription.id)
    assert row.plan == next(p.id for p in world.billing.catalog.products() if p.name == "Basic")


def test_timeline_is_newest_first_and_covers_each_kind(world: World) -> None:
    world.billing.subscriptions.cancel(world.subscription.id, at_period_end=True)
    world.billing.testing.drain()
    entries = world.billing.admin.timeline(world.alice.id)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    kinds = {e.kind for e in entries}
    assert {"subscription", "invoice", "payment", "webhook"} <= kinds
    titles = [e.title for e in entries]
    assert "Cancellation at period end scheduled" in titles and "Payment of $10.00 received" in titles
    assert titles.index("Cancellation at period end scheduled") < titles.index("Payment of $10.00 received")
    assert all(e.ref != world.bob.id for e in entries)                 # only this customer's facts
    started = next(e for e in entries if e.kind == "subscription" and e.title == "Subscription started")
    assert started.detail.endswith("; Basic, monthly"), started.detail   # the plan by name, not "p, r, i, c, e"


def test_refunds_and_credit_notes_keep_to_what_is_left(world: World) -> None:
    refunds, inv = world.billing.refunds, world.invoice.id
    left = refunds.refundable(inv)
    assert (left.paid, left.refunded, left.refund, left.credit, left.owed) == (1000, 0, 1000, 1000, 0)
    for bad in (0, -5, 1001, 2.5, True, "100"):
        with pytest.raises(InvalidInputError) as err:
            refunds.create(inv, amount=bad)  # type: ignore[arg-type]
        assert err.value.param == "amount"
    with pytest.raises(InvalidInputError):
        refunds.create(inv, reason="because")
    assert refunds.list(inv) == []
    first = refunds.create(inv, amount=300, reason="duplicate")
    assert (first.amount, first.reason, first.invoice) == (300, "duplicate", inv)
    assert refunds.refundable(inv).refund == 700
    note = refunds.credit_note(inv, amount=200, settle="credit", memo="goodwill")
    assert (note.amount, note.post_payment_amount, note.memo) == (200, 200, "goodwill")
    with pytest.raises(InvalidInputError) as err:
        refunds.credit_note(inv, amount=801)
    assert err.value.param == "amount"
    with pytest.raises(InvalidInputError) as err:      # 800 creditable, but only 700 left to refund
        refunds.credit_note(inv, amount=800, settle="refund")
    assert err.value.param == "settle"
    rest = refunds.create(inv)
    assert rest.amount == 700 and refunds.refundable(inv).refund == 0
    with pytest.raises(ConflictError):
        refunds.create(inv)
    assert sorted(r.amount for r in refunds.list(inv)) == [300, 700]


def test_an_open_invoice_credit_note_lowers_what_is_owed(world: World) -> None:
    b = world.billing
    item = b.stripe.v1.invoice_items.create(params={"customer": world.bob.id, "amount": 5000, "currency": "usd"})
    inv = b.stripe.v1.invoices.create(params={"customer": world.bob.id, "collection_method": "send_invoice",
                                              "days_until_due": 30, "pending_invoice_items_behavior": "include"})
    b.stripe.v1.invoices.finalize_invoice(inv.id)
    b.testing.drain()
    assert item.id and b.invoices.get(inv.id).amount_remaining == 5000
    with pytest.raises(ConflictError):
        b.refunds.create(inv.id)                          # nothing was paid
    note = b.refunds.credit_note(inv.id, amount=1500, reason="order_change")
    assert (note.pre_payment_amount, note.post_payment_amount) == (1500, 0)
    assert b.invoices.get(inv.id).amount_remaining == 3500   # the local copy was refreshed


def test_reconcile_runs_are_kept_with_who_started_them(world: World) -> None:
    admin = world.billing.admin
    run = admin.run_reconcile(started_by="ops@example.com")
    assert run["started_by"] == "ops@example.com" and run["dry_run"] is False and run["error"] is None
    assert [r["started_at"] for r in admin.reconcile_runs()] == [run["started_at"]]
    world.billing.emulator.webhooks.mode = "manual"       # the change reaches us only through reconciliation
    world.billing.stripe.v1.customers.update(world.bob.id, params={"name": "Changed in Stripe"})
    dry = admin.run_reconcile(started_by="ops@example.com", dry_run=True)
    assert dry["dry_run"] is True and world.billing.customers.get(owner_id="org_bob").name == "Bob Broken"
    assert len(admin.reconcile_runs()) == 2 and world.bob.id in str(dry["report"])
    done = admin.run_reconcile(started_by="ops@example.com")
    assert done["fixed"] + done["report"]["events_processed"] >= 1
    assert world.billing.customers.get(owner_id="org_bob").name == "Changed in Stripe"
    with pytest.raises(InvalidInputError):
        admin.run_reconcile(started_by=" ", dry_run=True)
    assert len(admin.reconcile_runs()) == 3
