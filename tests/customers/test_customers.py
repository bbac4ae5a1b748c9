"""Customers: Stripe first with an idempotency key, then the local row through sync_customer."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from billingos import (
    Billing,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StripeUnavailableError,
    signals,
)
from billingos.customers import BillingCustomer


def _count(billing: Billing) -> int:
    with billing.session_factory() as s:
        return s.scalar(select(func.count()).select_from(BillingCustomer)) or 0


def _posts(billing: Billing) -> int:
    return sum(1 for m, _, _ in billing.emulator.request_log if m == "POST")


def test_create_writes_stripe_then_local_row(billing: Billing) -> None:
    c = billing.customers.create(owner_id="org_42", email="a@b.co", name="Acme")
    remote = billing.stripe.v1.customers.retrieve(c.id)
    assert remote.email == "a@b.co" and remote.name == "Acme"
    assert remote.metadata["billingos_owner_id"] == "org_42"
    got = billing.customers.get(owner_id="org_42")
    assert got == c
    assert got.owner_id == "org_42" and got.email == "a@b.co" and got.metadata == {"billingos_owner_id": "org_42"}
    assert billing.customers.get(stripe_id=c.id).owner_id == "org_42"


def test_created_signal_fires_after_commit(billing: Billing) -> None:
    seen: list[tuple[str, int]] = []

    def on_created(sender: Billing, customer: Any, owner_id: str) -> None:
        seen.append((owner_id, _count(sender)))   # the row must already be visible in a new session

    signals.customer_created.connect(on_created)
    try:
        billing.customers.create(owner_id="org_1", email="x@y.co")
    finally:
        signals.customer_created.disconnect(on_created)
    assert seen == [("org_1", 1)]


def test_second_create_for_owner_is_a_conflict(billing: Billing) -> None:
    billing.customers.create(owner_id="org_1")
    posts = _posts(billing)
    with pytest.raises(ConflictError, match="already has customer"):
        billing.customers.create(owner_id="org_1", email="other@b.co")
    assert _posts(billing) == posts


def test_concurrent_double_submit_makes_one_customer(billing: Billing) -> None:
    results: list[Any] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            results.append(billing.customers.create(owner_id="org_dup", email="d@b.co"))
        except ConflictError as e:  # the loser of the race may see the winner's row
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.id for r in results} | {e.message.split()[-1].rstrip(";") for e in errors} != set()
    assert len({r.id for r in results}) == 1
    assert len(billing.stripe.v1.customers.list().data) == 1
    assert _count(billing) == 1


def _failing_commit(billing: Billing) -> Any:
    """Make the local commit of a customer fail (after Stripe made it), as a lost database would."""
    from billingos.domain_events import CustomerSynced

    def boom(session: Any, event: Any) -> None:
        raise RuntimeError("the database went away before the commit")
    billing.events.subscribe_in_transaction(CustomerSynced, boom)
    return lambda: billing.events._in_transaction[CustomerSynced].remove(boom)


def test_retry_after_idempotency_window_finds_customer_by_metadata(billing: Billing, clock: Any) -> None:
    """Stripe call succeeded, the local commit was lost; a retry days later must not duplicate."""
    undo = _failing_commit(billing)
    with pytest.raises(RuntimeError, match="went away"):
        billing.customers.create(owner_id="org_late", email="late@b.co")
    undo()
    clock.advance(days=3)
    c = billing.customers.create(owner_id="org_late", email="late@b.co")
    assert len(billing.stripe.v1.customers.list().data) == 1
    assert c.email == "late@b.co" and _count(billing) == 1


def test_failed_stripe_call_writes_nothing(billing: Billing) -> None:
    billing.emulator.faults.down = True
    with pytest.raises(StripeUnavailableError, match="nothing was written"):
        billing.customers.create(owner_id="org_down", email="a@b.co")
    billing.emulator.faults.down = False
    assert _count(billing) == 0
    billing.emulator.faults.fail_next = 5
    with pytest.raises(StripeUnavailableError):
        billing.customers.create(owner_id="org_down", email="a@b.co")
    billing.emulator.faults.reset()
    assert _count(billing) == 0
    assert billing.customers.create(owner_id="org_down", email="a@b.co").owner_id == "org_down"


def test_update_changes_stripe_and_local_and_signals(billing: Billing) -> None:
    billing.customers.create(owner_id="org_u", email="old@b.co", name="Old")
    changes: list[set[str]] = []

    def on_updated(sender: Billing, customer: Any, changed: set[str]) -> None:
        changes.append(changed)

    signals.customer_updated.connect(on_updated)
    try:
        c = billing.customers.update("org_u", email="new@b.co", metadata={"plan_hint": "pro"})
    finally:
        signals.customer_updated.disconnect(on_updated)
    assert c.email == "new@b.co" and c.name == "Old"
    assert c.metadata == {"billingos_owner_id": "org_u", "plan_hint": "pro"}
    assert billing.stripe.v1.customers.retrieve(c.id).email == "new@b.co"
    assert changes == [{"email", "metadata"}]


def test_sync_from_stripe_object_is_the_same_path(billing: Billing) -> None:
    c = billing.customers.create(owner_id="org_s", email="s@b.co")
    remote = billing.stripe.v1.customers.update(c.id, params={"name": "Changed in Dashboard"})
    synced = billing.customers.sync(remote)
    assert synced is not None and synced.name == "Changed in Dashboard"
    assert billing.customers.get(owner_id="org_s").name == "Changed in Dashboard"


def test_delete_marks_row_deleted(billing: Billing) -> None:
    c = billing.customers.create(owner_id="org_d")
    gone = billing.customers.delete("org_d")
    assert gone.deleted and gone.id == c.id
    with pytest.raises(NotFoundError):
        billing.customers.get(owner_id="org_d")
    assert billing.customers.list(include_deleted=True).items[0].deleted


def test_list_paginates_and_searches(billing: Billing) -> None:
    for i in range(7):
        billing.customers.create(owner_id=f"org_{i}", email=f"user{i}@example.com", name=f"Team {i}")
    first = billing.customers.list(limit=3)
    assert [c.owner_id for c in first.items] == ["org_0", "org_1", "org_2"] and first.has_more
    second = billing.customers.list(limit=3, after=first.next_cursor)
    assert [c.owner_id for c in second.items] == ["org_3", "org_4", "org_5"]
    third = billing.customers.list(limit=3, after=second.next_cursor)
    assert [c.owner_id for c in third.items] == ["org_6"] and not third.has_more
    assert [c.owner_id for c in billing.customers.list(email="user4@example.com").items] == ["org_4"]
    assert [c.owner_id for c in billing.customers.list(search="TEAM 5").items] == ["org_5"]
    assert billing.customers.list(search="100%").items == []


BAD_CREATE = [
    ({"owner_id": ""}, "owner_id"),
    ({"owner_id": "  padded "}, "owner_id"),
    ({"owner_id": 42}, "owner_id"),
    ({"owner_id": "x" * 256}, "owner_id"),
    ({"owner_id": "o", "email": "not-an-email"}, "email"),
    ({"owner_id": "o", "email": 5}, "email"),
    ({"owner_id": "o", "name": "n" * 300}, "name"),
    ({"owner_id": "o", "metadata": {"k": 1}}, "metadata"),
    ({"owner_id": "o", "metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
    ({"owner_id": "o", "metadata": {"billingos_owner_id": "other"}}, "metadata"),
    ({"owner_id": "o", "metadata": "nope"}, "metadata"),
    ({"owner_id": "o", "payment_method": "card_123"}, "payment_method"),
    ({"owner_id": "o", "test_clock": "bogus"}, "test_clock"),
]


@pytest.mark.parametrize(("kwargs", "param"), BAD_CREATE)
def test_bad_create_input_is_refused_and_writes_nothing(billing: Billing, kwargs: dict[str, Any],
                                                        param: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        billing.customers.create(**kwargs)
    assert err.value.param == param
    assert _count(billing) == 0 and _posts(billing) == 0


def test_bad_reads_and_updates(billing: Billing) -> None:
    with pytest.raises(InvalidInputError):
        billing.customers.get()
    with pytest.raises(InvalidInputError):
        billing.customers.get(owner_id="a", stripe_id="cus_1")
    with pytest.raises(InvalidInputError):
        billing.customers.get(stripe_id="sub_123")
    with pytest.raises(NotFoundError, match=r"customers\.create"):
        billing.customers.get(owner_id="nobody")
    with pytest.raises(NotFoundError):
        billing.customers.update("nobody", email="a@b.co")
    billing.customers.create(owner_id="org_x")
    with pytest.raises(InvalidInputError, match="at least one"):
        billing.customers.update("org_x")
    with pytest.raises(InvalidInputError):
        billing.customers.update("org_x", metadata={"billingos_owner_id": "hijack"})
    for bad in (0, -1, 1001, "10", True):
        with pytest.raises(InvalidInputError):
            billing.customers.list(limit=bad)
    with pytest.raises(InvalidInputError, match="cursor"):
        billing.customers.list(after="garbage!")


def test_stripe_rejection_surfaces_as_typed_error(billing: Billing) -> None:
    billing.customers.create(owner_id="org_pm")
    with pytest.raises(NotFoundError, match="No such payment method"):
        billing.customers.update("org_pm", default_payment_method="pm_doesnotexist")
    assert billing.customers.get(owner_id="org_pm").default_payment_method is None
