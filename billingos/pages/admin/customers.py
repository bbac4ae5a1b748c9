"""Customers: the list (search, filters, keyset pages), the CSV export, and one customer's page."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...errors import NotFoundError
from ..results import File, Redirect, Result
from .common import flag, optional, page
from .insights import customer_risk

if TYPE_CHECKING:
    from ..core import PageContext

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def home(ctx: PageContext) -> Result:
    ctx.admin    # noqa: B018  (refuses a non-admin before anything is read)
    return Redirect(ctx.url("admin.customers"), 302)


def _filters(ctx: PageContext) -> dict[str, Any]:
    q = ctx.query
    return {"search": optional(q.get("q")), "status": optional(q.get("status")), "plan": optional(q.get("plan")),
            "delinquent": flag(q.get("delinquent"), "delinquent")}


def customer_list(ctx: PageContext) -> Result:
    filters = _filters(ctx)
    listing = ctx.billing.admin.customers(**filters, after=optional(ctx.query.get("after")))
    products = {p.id: p.name for p in ctx.billing.catalog.products(active=None)}
    query = {k: v for k, v in ctx.query.items() if k in ("q", "status", "plan", "delinquent") and v}
    from ...admin import CUSTOMER_STATUSES
    return page(ctx, "customers.html", "customers", "Customers", rows=listing.items, products=products,
                query=query, statuses=CUSTOMER_STATUSES, next_url=ctx.url("admin.customers", **query,
                after=listing.next_cursor) if listing.next_cursor else None,
                export_url=ctx.url("admin.customers_csv", **query))


def export(ctx: PageContext) -> Result:
    """The matching customers as CSV, streamed in chunks (filters are checked before the first byte)."""
    from ...admin import EXPORT_COLUMNS
    ctx.admin    # noqa: B018
    rows = ctx.billing.admin.export_customers(**_filters(ctx))
    return File(_csv([list(EXPORT_COLUMNS)], rows), "text/csv; charset=utf-8", "customers.csv")


def _csv(head: list[list[str]], rows: Iterator[list[str]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(head)
    for n, row in enumerate(rows, 1):
        # a cell starting like a formula is quoted as text (spreadsheet formula injection)
        writer.writerow(["'" + v if v.startswith(_FORMULA) else v for v in row])
        if n % 200 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def detail(ctx: PageContext) -> Result:
    billing, cid = ctx.billing, ctx.params["customer_id"]
    ctx.admin    # noqa: B018
    if not cid.startswith("cus_"):
        raise NotFoundError("No such customer.")
    customer = billing.customers.get(stripe_id=cid)
    subs = billing.admin.subscriptions(customer=cid, limit=20).items
    owner = customer.owner_id
    grants = billing.entitlements.grants(owner) if owner else []
    usage = []
    if owner:
        for meter in sorted({g.feature for g in grants if g.type == "metered"}):
            check = billing.check(owner, meter, 0)
            usage.append({"feature": meter, "used": check.used, "limit": check.limit, "resets_at": check.resets_at})
    features = billing.catalog.features()
    products = {p.id: p.name for p in billing.catalog.products(active=None)}
    return page(ctx, "customer.html", "customers", customer.name or customer.email or customer.id,
                customer=customer, subscriptions=subs, invoices=billing.admin.invoices(cid, limit=20),
                cards=billing.payment_methods.list(owner) if owner else [], grants=grants, usage=usage,
                features=features, products=products, timeline=billing.admin.timeline(cid, limit=100),
                risk=customer_risk(ctx, owner))
