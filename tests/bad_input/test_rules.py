"""The examples issue 8 gives (items 7-9), one by one, on SQLite and PostgreSQL; then hypothesis: any
string an owner-id validator accepts is one both databases store and find again."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billingos import InvalidInputError, NotFoundError
from billingos.validation import is_owner_id

from .world import World

#: (label, call, the parameter the error must name): each raised a raw exception or was accepted before.
EXAMPLES: list[tuple[str, Callable[[World], Any], str]] = [
    ("change(proration_date='2026-02-01')",
     lambda w: w.billing.subscriptions.change(w.sub, quantity=2, proration_date="2026-02-01"), "proration_date"),
    ("customers.list(after=123)", lambda w: w.billing.customers.list(after=123), "after"),
    ("webhooks.events(limit=-1)", lambda w: w.billing.webhooks.events(limit=-1), "limit"),
    ("webhooks.replay(5)", lambda w: w.billing.webhooks.replay(5), "event_id"),
    ("usage.push(limit=-1)", lambda w: w.billing.usage.push(limit=-1), "limit"),
    ("usage.push(limit=NaN)", lambda w: w.billing.usage.push(limit=math.nan), "limit"),
    ("customers.list(limit=NaN)", lambda w: w.billing.customers.list(limit=math.nan), "limit"),
    ("owner id with a lone surrogate", lambda w: w.billing.customers.get(owner_id="org_1\ud800"), "owner_id"),
    ("owner id with NUL", lambda w: w.billing.customers.get(owner_id="org_1\x00"), "owner_id"),
    ("email with a trailing newline",
     lambda w: w.billing.customers.create(owner_id=w.new_owner, email="a@b.co\n"), "email"),
    ("idempotency key with a trailing newline",
     lambda w: w.billing.usage.track(w.owner, "api_calls", 1, "org_1\n"), "idempotency_key"),
    ("change(proration='')", lambda w: w.billing.subscriptions.change(w.sub, quantity=3, proration=""), "proration"),
    ("create(idempotency_key='')",
     lambda w: w.billing.subscriptions.create(w.owner, price="pro_monthly", idempotency_key=""), "idempotency_key"),
    ("create(idempotency_key='\\x00')",
     lambda w: w.billing.subscriptions.create(w.owner, price="pro_monthly", idempotency_key="\x00"),
     "idempotency_key"),
    ("consume with a non-ASCII key",
     lambda w: w.billing.consume(w.owner, "api_calls", 1, "r\u00e9q"), "idempotency_key"),
    ("cancel(at_period_end='no')", lambda w: w.billing.subscriptions.cancel(w.sub, at_period_end="no"),
     "at_period_end"),
    ("subscriptions.list(status='nope')", lambda w: w.billing.subscriptions.list(w.owner, status="nope"), "status"),
    ("invoices.list(status='nope')", lambda w: w.billing.invoices.list(w.owner, status="nope"), "status"),
    ("webhooks.events(status='nope')", lambda w: w.billing.webhooks.events(status="nope"), "status"),
    ("jobs.list(status='nope')", lambda w: w.billing.jobs.list(status="nope"), "status"),
    ("catalog.products(active='yes')", lambda w: w.billing.catalog.products(active="yes"), "active"),
]


@pytest.mark.parametrize(("label", "call", "param"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_issue_examples_raise_a_typed_error_and_write_nothing(world: World, label: str,
                                                              call: Callable[[World], Any], param: str) -> None:
    before = (world.database(), world.stripe())
    with pytest.raises(InvalidInputError) as caught:
        call(world)
    assert caught.value.param == param, caught.value
    after = (world.database(), world.stripe())
    if after != before:
        world.dirty = True
    assert after == before, f"{label} wrote something"


def test_messages_echo_a_short_prefix(world: World) -> None:
    with pytest.raises(InvalidInputError) as caught:
        world.billing.customers.get(owner_id="x" * 100_000)
    message = str(caught.value)
    assert len(message) < 300 and "x" * 41 not in message and "100,000 characters" in message


def test_adjust_with_a_positive_value_says_what_adjust_takes(world: World) -> None:
    """It used to answer "value must be >= 0, got -1; correct an event with billing.usage.adjust()"."""
    with pytest.raises(InvalidInputError) as caught:
        world.billing.usage.adjust(world.owner, "api_calls", world.usage_key, "sweep-adjust-1", value=1)
    assert caught.value.param == "value"
    assert "adjust()" not in str(caught.value) and "-1" in str(caught.value) and "got 1" in str(caught.value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owner=st.text(st.characters(codec=None, exclude_categories=()), max_size=300))
def test_an_accepted_owner_id_is_stored_and_found_again(world: World, owner: str) -> None:
    """Acceptance and storability agree: whatever passes the validator, both databases take; whatever
    they could not take, the validator refused first."""
    try:
        world.billing.entitlements.grants(owner)
    except InvalidInputError as e:
        assert e.param == "owner_id" and not is_owner_id(owner)
        return
    assert is_owner_id(owner)
    if owner in (world.owner, world.other_owner):
        return
    with pytest.raises(NotFoundError):      # a query with it runs: the database took the value
        world.billing.customers.get(owner_id=owner)
