"""customers.link() / link_many(): adopting Stripe customers made by hand-written glue. The legacy objects
are made with the plain SDK against the emulator (no billingos write path), then linked."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billingos import Actor, Billing, ConflictError, InvalidInputError, NotFoundError, signals
from billingos.audit.models import BillingAuditEvent
from billingos.customers import BillingCustomer
from billingos.invoices.models import BillingInvoice
from billingos.subscriptions.models import BillingSubscription

KEY = "billingos_owner_id"


def _catalog(billing: Billing) -> str:
    billing.catalog.sync({
        "features": [{"key": "export", "name": "Export"}],
        "products": [{"key": "pro", "name": "Pro", "features": [{"key": "export"}],
                      "prices": [{"lookup_key": "pro_monthly", "currency": "usd", "unit_amount": 2900,
                                  "interval": "month"}]}]})
    return str(billing.catalog.price("pro_monthly").id)


def _legacy(billing: Billing, price: str | None, email: str = "a@acme.co",
            metadata: dict[str, str] | None = None) -> str:
    """A customer with a saved default card and (with ``price``) an active subscription, made with the SDK."""
    stripe = billing.stripe
    customer = stripe.v1.customers.create(params={"email": email, "metadata": metadata or {},
                                                  "payment_method": "pm_card_visa"})
    card = stripe.v1.payment_methods.list(params={"customer": customer.id}).data[0].id
    stripe.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card}})
    if price is not None:
        stripe.v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": price}]})
    return str(customer.id)


def _stripe_owner(billing: Billing, customer_id: str) -> str | None:
    return billing.stripe.v1.customers.retrieve(customer_id).metadata.to_dict().get(KEY)


def _rows(billing: Billing, model: Any) -> int:
    with billing.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _posts(billing: Billing) -> int:
    return sum(1 for m, _, _ in billing.emulator.request_log if m == "POST")


def test_link_writes_the_owner_and_brings_everything_under_it_at_once(billing: Billing) -> None:
    price = _catalog(billing)
    cus = _legacy(billing, price)
    seen: list[tuple[str, str | None, str]] = []

    def on_linked(sender: Billing, customer: Any, owner_id: str, previous_owner_id: str | None) -> None:
        seen.append((owner_id, previous_owner_id, customer.id))

    signals.customer_linked.connect(on_linked)
    try:
        customer = billing.customers.link(cus, "user_42", actor=Actor(kind="admin", id="ops@host"))
    finally:
        signals.customer_linked.disconnect(on_linked)
    assert (customer.id, customer.owner_id, customer.email) == (cus, "user_42", "a@acme.co")
    assert _stripe_owner(billing, cus) == "user_42"
    # no webhook, no reconcile: the subscription, its invoice, the card and the grant are there already
    [sub] = billing.subscriptions.list("user_42")
    assert (sub.status, sub.items[0].price, sub.owner_id) == ("active", price, "user_42")
    [invoice] = billing.invoices.list("user_42")
    assert (invoice.status, invoice.amount_paid, invoice.owner_id) == ("paid", 2900, "user_42")
    [card] = billing.payment_methods.list("user_42")
    assert (card.last4, card.default, card.customer) == ("4242", True, cus)
    assert billing.has_feature("user_42", "export")
    assert seen == [("user_42", None, cus)]
    [entry] = [e for e in billing.audit.list().items if e.action == "customer.linked"]
    assert (entry.actor_kind, entry.actor_id, entry.target_id, entry.owner_id) == ("admin", "ops@host", cus,
                                                                                    "user_42")
    assert (entry.before, entry.after) == ({"owner_id": None}, {"owner_id": "user_42"})


def test_link_is_idempotent(billing: Billing) -> None:
    price = _catalog(billing)
    cus = _legacy(billing, price, metadata={"user_id": "42"})
    first = billing.customers.link(cus, "user_42")
    posts = _posts(billing)
    again = billing.customers.link(cus, "user_42")
    assert again == first and first.metadata == {"user_id": "42", KEY: "user_42"}
    assert _posts(billing) == posts                    # nothing written to Stripe the second time
    assert (_rows(billing, BillingCustomer), _rows(billing, BillingSubscription), _rows(billing, BillingInvoice)) \
        == (1, 1, 1)
    with billing.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BillingAuditEvent)
                        .where(BillingAuditEvent.action == "customer.linked")) == 1


def test_linking_a_customer_already_mirrored_without_owner_moves_its_rows(billing: Billing) -> None:
    """The order the migration guide used to warn about: reconcile first, link after."""
    price = _catalog(billing)
    cus = _legacy(billing, price)
    billing.reconcile()
    with billing.session_factory() as s:
        assert s.scalars(select(BillingSubscription.owner_id)).all() == [None]
    billing.customers.link(cus, "user_7")
    assert [s.owner_id for s in billing.subscriptions.list("user_7")] == ["user_7"]
    assert billing.has_feature("user_7", "export")
    with billing.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BillingInvoice)
                        .where(BillingInvoice.owner_id.is_(None))) == 0


def test_conflicts_refuse_and_write_nothing_unless_forced(billing: Billing) -> None:
    price = _catalog(billing)
    theirs = _legacy(billing, price, email="them@x.co", metadata={KEY: "other"})
    mine = _legacy(billing, None, email="me@x.co")
    billing.customers.link(theirs, "other")
    billing.customers.link(mine, "me")
    new = _legacy(billing, None, email="new@x.co")
    posts = _posts(billing)
    with pytest.raises(ConflictError, match="linked to another owner"):    # another owner's customer
        billing.customers.link(theirs, "me")
    with pytest.raises(ConflictError, match="already has customer"):       # the owner has one already
        billing.customers.link(new, "me")
    assert _posts(billing) == posts and _stripe_owner(billing, new) is None
    assert _stripe_owner(billing, theirs) == "other" and billing.customers.get(owner_id="me").id == mine
    assert billing.has_feature("other", "export")
    # force moves the link: the old owner loses the customer, its subscription and its grant
    moved = billing.customers.link(theirs, "new_owner", force=True)
    assert moved.owner_id == "new_owner" and _stripe_owner(billing, theirs) == "new_owner"
    assert [s.owner_id for s in billing.subscriptions.list("new_owner")] == ["new_owner"]
    assert billing.subscriptions.list("other") == []
    assert billing.has_feature("new_owner", "export") and not billing.has_feature("other", "export")
    with pytest.raises(NotFoundError):
        billing.customers.get(owner_id="other")
    # force takes an owner's customer over: the old one is unlinked in Stripe too
    replacement = _legacy(billing, None, email="me2@x.co")
    billing.customers.link(replacement, "me", force=True)
    assert billing.customers.get(owner_id="me").id == replacement
    assert _stripe_owner(billing, mine) in (None, "")
    assert billing.customers.get(stripe_id=mine).owner_id is None


def test_deleted_and_unknown_customers_are_not_found(billing: Billing) -> None:
    gone = _legacy(billing, None)
    billing.stripe.v1.customers.delete(gone)
    for cid in (gone, "cus_doesnotexist"):
        with pytest.raises(NotFoundError):
            billing.customers.link(cid, "user_1")
    assert _rows(billing, BillingCustomer) == 0


def test_an_owner_whose_customer_was_deleted_can_adopt_another(billing: Billing) -> None:
    old = billing.customers.create(owner_id="user_9", email="old@x.co")
    billing.customers.delete("user_9")
    new = _legacy(billing, None, email="new@x.co")
    assert billing.customers.link(new, "user_9").id == new
    assert billing.customers.get(owner_id="user_9").id == new
    with billing.session_factory() as s:
        row = s.scalars(select(BillingCustomer).where(BillingCustomer.stripe_id == old.id)).one()
        assert (row.owner_id, row.deleted_at is not None) == (None, True)


@pytest.mark.parametrize(("customer_id", "owner_id"), [
    ("cus_ok", ""), ("cus_ok", " padded"), ("cus_ok", "nul\x00byte"), ("cus_ok", "x" * 256), ("cus_ok", 42),
    ("cus_ok", None), ("cus_ok", "\ud800"), ("pi_123", "u"), ("", "u"), ("cus_" + "a" * 5000, "u"),
    ("cus_a\x00b", "u"), (None, "u"), (float("nan"), "u"), (["cus_ok"], "u"),
])
def test_hostile_input_is_refused_before_anything_is_written(billing: Billing, customer_id: Any,
                                                             owner_id: Any) -> None:
    before = len(billing.emulator.request_log)
    with pytest.raises(InvalidInputError):
        billing.customers.link(customer_id, owner_id)
    assert len(billing.emulator.request_log) == before and _rows(billing, BillingCustomer) == 0


def test_hostile_options_are_refused(billing: Billing) -> None:
    cus = _legacy(billing, None)
    for kwargs in ({"force": "yes"}, {"force": 1}, {"actor": "admin"}):
        with pytest.raises(InvalidInputError):
            billing.customers.link(cus, "u1", **kwargs)
    assert _rows(billing, BillingCustomer) == 0


def test_link_many_reports_each_outcome_and_is_safe_to_run_again(billing: Billing) -> None:
    price = _catalog(billing)
    a, b = _legacy(billing, price, email="a@x.co"), _legacy(billing, None, email="b@x.co")
    taken = _legacy(billing, None, email="c@x.co", metadata={KEY: "someone_else"})
    gone = _legacy(billing, None, email="d@x.co")
    billing.stripe.v1.customers.delete(gone)
    pairs = [("u_a", a), ("u_b", b), ("u_c", taken), ("u_d", gone)]
    dry = billing.customers.link_many(pairs, dry_run=True)
    assert (dry.dry_run, dry.linked, dry.already_linked) == (True, [a, b], [])
    assert [c.stripe_customer_id for c in dry.conflicts] == [taken, gone]
    assert _rows(billing, BillingCustomer) == 0 and _stripe_owner(billing, a) is None
    ticks: list[tuple[int, int]] = []
    report = billing.customers.link_many(pairs, progress=lambda done, total: ticks.append((done, total)))
    assert (report.linked, report.already_linked, report.ok) == ([a, b], [], False)
    assert [(c.owner_id, c.stripe_customer_id) for c in report.conflicts] == [("u_c", taken), ("u_d", gone)]
    assert "another owner" in report.conflicts[0].reason
    assert ticks == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert billing.has_feature("u_a", "export") and billing.customers.get(owner_id="u_b").id == b
    again = billing.customers.link_many(pairs)
    assert (again.linked, again.already_linked, len(again.conflicts)) == ([], [a, b], 2)


@pytest.mark.parametrize("pairs", [
    "u,cus_x", {"u": "cus_x"}, 5, [("u", "cus_x", "extra")], [("u",)], [("", "cus_x")],
    [("u", "pm_x")], [("u1", "cus_x"), ("u1", "cus_y")], [("u1", "cus_x"), ("u2", "cus_x")],
    [("ok", "cus_ok"), ("nul\x00", "cus_y")],
])
def test_link_many_validates_every_pair_before_the_first_write(billing: Billing, pairs: Any) -> None:
    cus = _legacy(billing, None)
    before = len(billing.emulator.request_log)
    with pytest.raises(InvalidInputError):
        billing.customers.link_many([(*p[:1], cus) if p == ("ok", "cus_ok") else p for p in pairs]
                                    if isinstance(pairs, list) else pairs)
    assert len(billing.emulator.request_log) == before and _rows(billing, BillingCustomer) == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owners=st.lists(st.text(alphabet="abcxyz019_-", min_size=1, max_size=12), min_size=1, max_size=4,
                       unique=True))
def test_link_many_twice_equals_once(billing: Billing, owners: list[str]) -> None:
    """Property: after link_many, every owner maps to its customer and Stripe agrees; a second run links
    nothing new and reports every pair already linked (whatever ran before in this database)."""
    pairs = [(o, _legacy(billing, None, email=f"{i}@p.co")) for i, o in enumerate(owners)]
    for owner, cus in pairs:
        try:
            billing.customers.get(owner_id=owner)
        except NotFoundError:
            continue
        billing.customers.link(cus, owner, force=True)    # an owner from an earlier example: move it
    billing.customers.link_many(pairs)
    again = billing.customers.link_many(pairs)
    assert (again.linked, again.conflicts) == ([], [])
    assert again.already_linked == [c for _, c in pairs]
    for owner, cus in pairs:
        assert billing.customers.get(owner_id=owner).id == cus and _stripe_owner(billing, cus) == owner


def test_an_owner_taken_between_the_check_and_the_write_is_refused_and_the_key_taken_back(billing: Billing) -> None:
    """Two links racing for one owner: the second one's local apply sees the owner taken (sync_customer keeps
    the first mapping), refuses, and removes the key it wrote in Stripe."""
    first, second = _legacy(billing, None, email="1@x.co"), _legacy(billing, None, email="2@x.co")
    real_plan = billing.customers._link_plan

    def racing_plan(customer_id: str, owner: str, *, force: bool) -> Any:
        planned = real_plan(customer_id, owner, force=force)       # checked: the owner is free
        if customer_id == second:
            billing.customers.link(first, owner)                   # ...and taken right after
        return planned

    billing.customers._link_plan = racing_plan  # type: ignore[method-assign]
    with pytest.raises(ConflictError, match="could not be linked"):
        billing.customers.link(second, "racer")
    assert billing.customers.get(owner_id="racer").id == first
    assert _stripe_owner(billing, first) == "racer" and _stripe_owner(billing, second) in (None, "")
