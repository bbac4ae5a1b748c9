"""No N+1: the statements (and Stripe requests) each portal page makes, pinned, and the same for a customer
with 3 invoices as for one with 60."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from billingos import Billing
from billingos.stripe_api import plain

from .conftest import OWNER, Portal, customer_with_card

#: statements per page (SQLite). A change here is a change in how many round trips a page costs.
PINNED = {"/billing/portal/": 10, "/billing/portal/invoices": 1, "/billing/portal/payment-methods": 3,
          "/billing/portal/plans": 6}


def add_invoices(billing: Billing, count: int, tag: str, owner: str = OWNER) -> None:
    """``count`` more paid invoices for the owner, copies of a real one applied through the invoice sync."""
    first = next(i for i in billing.invoices.list(owner, limit=100) if "copy" not in i.id)
    real = plain(billing.stripe.v1.invoices.retrieve(first.id))
    with billing.transaction() as session:
        for i in range(count):
            obj = copy.deepcopy(real)
            obj.update(id=f"in_copy{tag}{i:04d}", number=f"{tag.upper()}-{i:04d}",
                       created=real["created"] - 86400 * (i + 1))
            billing.invoices.apply(session, obj)


@contextmanager
def counting(billing: Billing) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(billing.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(billing.engine, "before_cursor_execute", count)


def _statements(portal: Portal, path: str) -> tuple[int, int]:
    portal.get(path)                                 # warm: the CSRF cookie, caches
    sent = len(portal.billing.emulator.request_log)
    with counting(portal.billing) as seen:
        answer = portal.get(path)
    assert answer.status == 200, answer.text[:300]
    return len(seen), len(portal.billing.emulator.request_log) - sent


def test_statements_per_page_are_pinned_and_do_not_grow_with_invoices(portal: Portal) -> None:
    billing = portal.billing
    customer = customer_with_card(billing)
    billing.subscriptions.create(customer, price="pro_monthly")
    add_invoices(billing, 2, "a")
    few = {path: _statements(portal, path) for path in PINNED}
    add_invoices(billing, 58, "b")
    many = {path: _statements(portal, path) for path in PINNED}
    assert many == few, (few, many)
    assert {p: n for p, (n, _) in few.items()} == PINNED
    assert {p: s for p, (_, s) in few.items()} == {"/billing/portal/": 1, "/billing/portal/invoices": 0,
                                                   "/billing/portal/payment-methods": 0, "/billing/portal/plans": 0}
    assert portal.get("/billing/portal/invoices").text.count("PDF") >= 61
