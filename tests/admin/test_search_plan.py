"""The admin customer search uses an index on PostgreSQL (20,000 customers, analyzed): each kind of search
and a deep keyset page is an index scan, never a sequential scan of the table; an email or name prefix reads
its matches from the prefix indexes, whatever the age of the customers matched. (Whether PostgreSQL reads them
index-only or through a bitmap depends on the visibility map, i.e. on when the table was last vacuumed: both
are the index.)"""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from bench.admin import explain, seed_customers
from billingos import Billing
from billingos.admin import service as admin_service
from billingos.customers import BillingCustomer


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_every_search_is_an_index_scan(billing: Billing) -> None:
    engine = billing.config.engine
    assert engine is not None
    seed_customers(engine, 20_000)
    admin = billing.admin
    page = admin.customers(limit=50)
    for _ in range(100):                                   # walk 100 pages down: a deep cursor
        page = admin.customers(limit=50, after=page.next_cursor)
    assert page.next_cursor is not None and page.items[-1].customer.owner_id == "org_14951"
    plans = {
        "email prefix": (explain(engine, admin.customer_query_sql(search="user1234@")),
                         "ix_billing_customers_email_search"),
        "name or email prefix, or owner id": (explain(engine, admin.customer_query_sql(search="customer 1234")),
                                              "ix_billing_customers_name_search"),
        "stripe id": (explain(engine, admin.customer_query_sql(search="cus_bench00001234")),
                      "uq_billing_customers_stripe_id"),
        "deep page": (explain(engine, admin.customer_query_sql(after=page.next_cursor)), "pk_billing_customers"),
        "broad prefix, deep page": (explain(engine, admin.customer_query_sql(search="user1", after=page.next_cursor)),
                                    "ix_billing_customers_email_search"),
    }
    for label, (plan, index) in plans.items():
        assert index in plan and "Seq Scan" not in plan, f"{label}:\n{plan}"
    assert "ix_billing_customers_email_search" in plans["name or email prefix, or owner id"][0]
    assert "uq_billing_customers_owner_id" in plans["name or email prefix, or owner id"][0]
    found = admin.customers(search="USER1234@")
    assert [r.customer.owner_id for r in found.items] == ["org_1234"]


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_prefix_search_pages_match_a_plain_scan(billing: Billing, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefix-index path and the dense-match path (a prefix matching more than SEARCH_CAP customers) give
    exactly what filtering every row gives (the oracle: Python over all customers), newest first, page after
    page, with and without a filter."""
    rows = [{"stripe_id": f"cus_seed{n:08d}", "owner_id": f"org_{n}", "name": f"Customer {n}",
             "email": f"user{n}@" + ("acme.io", "Example.com", "mail.test", "corp.org")[n % 4], "currency": "usd",
             "balance": 0, "delinquent": n % 50 == 0, "livemode": False, "stripe_metadata": {}, "data": {},
             "synced_at": billing.now(), "version": 1} for n in range(1, 3001)]
    with billing.transaction() as session:
        session.execute(insert(BillingCustomer), rows)
    every = billing.admin.customers(limit=500)
    everyone = list(every.items)
    while every.next_cursor:
        every = billing.admin.customers(limit=500, after=every.next_cursor)
        everyone += every.items

    def oracle(q: str, delinquent: bool | None = None) -> list[str]:
        out = []
        for row in everyone:                     # newest first already
            c = row.customer
            hit = (c.email or "").lower().startswith(q.lower()) or (
                "@" not in q and ((c.name or "").lower().startswith(q.lower()) or c.owner_id == q))
            if hit and (delinquent is None or c.delinquent == delinquent):
                out.append(str(c.owner_id))
        return out

    cases = (("user12", None), ("USER1", None), ("customer 2", None), ("user", None),
                          ("user29@", None), ("org_7", None), ("user1", True), ("nobody", None))
    for cap, (q, delinquent) in [(cap, case) for cap in (5000, 50) for case in cases]:
        monkeypatch.setattr(admin_service, "SEARCH_CAP", cap)
        got: list[str] = []
        page = billing.admin.customers(search=q, delinquent=delinquent, limit=40)
        got += [str(r.customer.owner_id) for r in page.items]
        while page.next_cursor:
            page = billing.admin.customers(search=q, delinquent=delinquent, limit=40, after=page.next_cursor)
            got += [str(r.customer.owner_id) for r in page.items]
        assert got == oracle(q, delinquent), (cap, q)
