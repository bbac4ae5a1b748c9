"""The admin customer search uses an index on PostgreSQL (20,000 customers, analyzed): each kind of search
and a deep keyset page is an index scan, never a sequential scan of the table."""

from __future__ import annotations

import pytest

from bench.admin import explain, seed_customers
from billingos import Billing


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
                         "ix_billing_customers_email_lower"),
        "name or email prefix, or owner id": (explain(engine, admin.customer_query_sql(search="customer 1234")),
                                              "ix_billing_customers_name_lower"),
        "stripe id": (explain(engine, admin.customer_query_sql(search="cus_bench00001234")),
                      "uq_billing_customers_stripe_id"),
        "deep page": (explain(engine, admin.customer_query_sql(after=page.next_cursor)), "pk_billing_customers"),
        "broad prefix, deep page": (explain(engine, admin.customer_query_sql(search="user1", after=page.next_cursor)),
                                    "pk_billing_customers"),
    }
    for label, (plan, index) in plans.items():
        assert index in plan and "Seq Scan" not in plan, f"{label}:\n{plan}"
    assert "ix_billing_customers_email_lower" in plans["name or email prefix, or owner id"][0]
    assert "uq_billing_customers_owner_id" in plans["name or email prefix, or owner id"][0]
    found = admin.customers(search="USER1234@")
    assert [r.customer.owner_id for r in found.items] == ["org_1234"]
