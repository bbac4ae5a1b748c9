"""customers.create: every public parameter against the emulator (issue 8 item 13), and Stripe's search only
for a retry past the 24 h idempotency window, with a fallback where search does not exist (item 16)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from billingos import Billing
from billingos.customers import CustomerService
from billingos.domain_events import CustomerSynced

SEARCH = "/v1/customers/search"


def _searches(billing: Billing) -> int:
    return sum(1 for _, path, _ in billing.emulator.request_log if path.startswith(SEARCH))


def _fail_commit(billing: Billing) -> Any:
    def boom(session: Any, event: Any) -> None:
        raise RuntimeError("the database went away before the commit")
    billing.events.subscribe_in_transaction(CustomerSynced, boom)
    return lambda: billing.events._in_transaction[CustomerSynced].remove(boom)


# --- item 13: each public parameter, with what Stripe then holds ------------------------------------
PARAMETERS = {"owner_id", "email", "name", "metadata", "payment_method", "test_clock"}


def test_every_public_parameter_has_a_test() -> None:
    assert set(inspect.signature(CustomerService.create).parameters) - {"self"} == PARAMETERS


def test_owner_email_name_metadata(billing: Billing) -> None:
    c = billing.customers.create(owner_id="org_1", email="a@b.co", name="Ada", metadata={"plan": "x"})
    remote = billing.stripe.v1.customers.retrieve(c.id)
    assert (remote.email, remote.name) == ("a@b.co", "Ada")
    assert remote.metadata.to_dict() == {"plan": "x", billing.config.owner_metadata_key: "org_1"}
    assert (c.owner_id, c.email, c.name, c.metadata["plan"]) == ("org_1", "a@b.co", "Ada", "x")


@pytest.mark.parametrize("card", ["pm_card_visa", "pm_card_mastercard"])
def test_a_test_card_is_attached_and_becomes_the_default(billing: Billing, card: str) -> None:
    c = billing.customers.create(owner_id="org_pm", email="pm@b.co", payment_method=card)
    attached = billing.stripe.v1.payment_methods.list(params={"customer": c.id}).data
    assert len(attached) == 1 and attached[0].id.startswith("pm_") and attached[0].id != card
    remote = billing.stripe.v1.customers.retrieve(c.id)
    assert remote.invoice_settings.default_payment_method == attached[0].id
    assert c.default_payment_method == attached[0].id


def test_an_existing_payment_method_is_attached_and_the_default(billing: Billing) -> None:
    pm = billing.stripe.v1.payment_methods.create(params={"type": "card", "card": {"token": "tok_visa"}})
    c = billing.customers.create(owner_id="org_pm2", payment_method=pm.id)
    assert c.default_payment_method == pm.id
    assert billing.stripe.v1.payment_methods.retrieve(pm.id).customer == c.id


def test_a_subscription_charges_the_card_given_at_create(billing: Billing) -> None:
    price = billing.stripe.v1.prices.create(params={
        "currency": "usd", "unit_amount": 1500, "recurring": {"interval": "month"},
        "product_data": {"name": "Pro"}})
    c = billing.customers.create(owner_id="org_paid", payment_method="pm_card_visa")
    sub = billing.subscriptions.create(c, price=price.id)
    assert sub.status == "active"


def test_test_clock(billing: Billing) -> None:
    clock = billing.stripe.v1.test_helpers.test_clocks.create(params={"frozen_time": int(billing.now().timestamp())})
    c = billing.customers.create(owner_id="org_clock", test_clock=clock.id)
    assert billing.stripe.v1.customers.retrieve(c.id).test_clock == clock.id


# --- item 16: no search before every create -----------------------------------------------------------
def test_a_fresh_create_makes_no_search(billing: Billing) -> None:
    billing.customers.create(owner_id="org_fresh", email="f@b.co")
    assert _searches(billing) == 0
    posts = [p for m, p, _ in billing.emulator.request_log if m == "POST"]
    assert posts == ["/v1/customers"]


def test_a_retry_within_the_window_replays_without_search(billing: Billing, clock: Any) -> None:
    undo = _fail_commit(billing)
    with pytest.raises(RuntimeError):
        billing.customers.create(owner_id="org_r", email="r@b.co")
    undo()
    clock.advance(hours=2)
    c = billing.customers.create(owner_id="org_r", email="r@b.co")
    assert _searches(billing) == 0 and len(billing.stripe.v1.customers.list().data) == 1
    assert billing.customers.get(owner_id="org_r").id == c.id


@pytest.mark.parametrize("search", ["works", "missing"])
def test_a_retry_past_the_window_finds_the_customer(billing: Billing, clock: Any, search: str) -> None:
    """Past 24 h Stripe forgot the key: the retry looks first, by search or (where search is a 404, as on
    localstripe) by the customer list filtered by email."""
    undo = _fail_commit(billing)
    with pytest.raises(RuntimeError):
        billing.customers.create(owner_id="org_late", email="late@b.co")
    undo()
    if search == "missing":
        billing.emulator.faults.missing_paths.add(SEARCH)
    clock.advance(days=2)
    c = billing.customers.create(owner_id="org_late", email="late@b.co")
    assert len(billing.stripe.v1.customers.list().data) == 1
    assert billing.customers.get(owner_id="org_late").id == c.id
    assert _searches(billing) == 1
    statuses = [s for _, p, s in billing.emulator.request_log if p.startswith(SEARCH)]
    assert statuses == ([404] if search == "missing" else [200])


def test_without_search_every_create_still_works(billing: Billing) -> None:
    """localstripe and stripe-mock answer 404 to search: creates must not depend on it."""
    billing.emulator.faults.missing_paths.add(SEARCH)
    made = [billing.customers.create(owner_id=f"org_{i}", email=f"{i}@b.co") for i in range(3)]
    assert len({c.id for c in made}) == 3 and _searches(billing) == 0


def test_a_refused_create_writes_nothing_and_the_next_attempt_works(billing: Billing) -> None:
    from billingos import NotFoundError
    billing.emulator.faults.missing_paths.add("/v1/customers")
    with pytest.raises(NotFoundError):
        billing.customers.create(owner_id="org_x", email="x@b.co")
    assert billing.customers.list().items == []
    billing.emulator.faults.missing_paths.clear()
    assert billing.customers.create(owner_id="org_x", email="x@b.co").owner_id == "org_x"
