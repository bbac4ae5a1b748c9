"""No N+1: the statements (and Stripe requests) each portal page makes, pinned, and the same for a customer
with 3 invoices as for one with 60 (issue 10). The overview's next-invoice preview comes from Stripe once, then
from the cache (tests/subscriptions/test_upcoming_cache.py shows its invalidation); the invoices page is
paged 25 at a time by keyset."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from sqlalchemy import event

from billingos import Billing
from billingos.stripe_api import plain

from .conftest import OWNER, Portal, customer_with_card

#: statements per page (SQLite). A change here is a change in how many round trips a page costs.
PINNED = {"/billing/portal/": 2, "/billing/portal/invoices": 1, "/billing/portal/payment-methods": 2,
          "/billing/portal/plans": 4}


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
    assert {p: s for p, (_, s) in few.items()} == dict.fromkeys(PINNED, 0)    # the preview: cached
    older = re.search(r'href="([^"]+)" rel="next"', portal.get("/billing/portal/invoices").html)
    assert older is not None
    deep = html.unescape(older.group(1))
    assert _statements(portal, deep) == (1, 0)                                 # a deeper page: the same


def test_the_invoices_page_walks_every_invoice_once_newest_first(portal: Portal) -> None:
    billing = portal.billing
    customer = customer_with_card(billing)
    billing.subscriptions.create(customer, price="pro_monthly")
    add_invoices(billing, 59, "w")
    expected = [i.number for i in billing.invoices.list(portal.owner, limit=100) if i.status != "draft"]
    assert len(expected) == 60
    seen: list[str] = []
    path: str | None = "/billing/portal/invoices"
    pages = 0
    while path is not None:
        answer = portal.get(path)
        assert answer.status == 200, answer.text[:300]
        numbers = re.findall(r'<td class="bos-hide-sm">([^<]+)</td>', answer.html)
        assert len(numbers) == (25 if pages < 2 else 10)
        assert answer.text.count("PDF") == len(numbers) + 1          # one link a row, and the column header
        assert ("Newest invoices" in answer.text) == (pages > 0)
        seen += numbers
        older = re.search(r'href="([^"]+)" rel="next"', answer.html)
        path = html.unescape(older.group(1)) if older else None
        pages += 1
    assert pages == 3 and seen == expected


def test_a_forged_invoices_cursor_is_a_400_page(portal: Portal) -> None:
    customer_with_card(portal.billing)
    for cursor in ("nope", "YTo1", "\x00", "i" * 500):
        answer = portal.get(f"/billing/portal/invoices?after={quote(cursor)}")
        assert answer.status == 400 and "cursor" in answer.text, answer.text[:200]
