"""Reads for the admin dashboard: the customer list (search, filters, keyset pages, export), the
subscription list and a customer's activity timeline. Writes go through the domains' own services.

The customer search is shaped so each branch can use an index (see migrations 0011 and 0012): a Stripe id or
an owner id is an equality, an email or a name is a case-insensitive *prefix*, whose matches are read from
the prefix indexes first (``_matches``). Pages run newest first on the primary key (keyset), so a deep page
costs what the first one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, false, func, literal, or_, select, union_all
from sqlalchemy.orm import defer

from .. import validation
from ..analytics.models import BillingLedgerEntry
from ..audit.models import BillingAuditEvent
from ..catalog.models import BillingPrice, BillingProduct
from ..customers import BillingCustomer, Customer, Page
from ..errors import NotFoundError
from ..invoices import BillingInvoice, Invoice
from ..subscriptions.models import BillingSubscription, BillingSubscriptionItem
from ..subscriptions.schemas import Subscription
from ..webhooks.models import BillingWebhookEvent
from .schemas import CustomerRow, TimelineEntry
from .timeline import audit_entry, invoice_entries, ledger_entry, ledger_prices, webhook_entry

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..context import Context
    from ..reconcile import ReconcileService

__all__ = ["CUSTOMER_STATUSES", "EXPORT_COLUMNS", "AdminService"]

SUBSCRIPTION_STATUSES = ("trialing", "active", "past_due", "unpaid", "canceled", "incomplete",
                         "incomplete_expired", "paused")
CUSTOMER_STATUSES = (*SUBSCRIPTION_STATUSES, "none")      # "none": no subscription at all
EXPORT_COLUMNS = ("stripe_id", "owner_id", "email", "name", "status", "plan", "delinquent", "currency", "balance",
                  "created")
LIVE = ("trialing", "active", "past_due", "unpaid", "incomplete", "paused")
_EXPORT_CHUNK = 500
SEARCH_CAP = 5000      # prefix matches per branch read from an index; past it they are dense


class AdminService:
    def __init__(self, ctx: Context, *, reconcile: ReconcileService) -> None:
        self._ctx = ctx
        self._reconcile = reconcile

    # --- customers ---------------------------------------------------------------------------------
    def customers(self, *, search: str | None = None, status: str | None = None, plan: str | None = None,
                  delinquent: bool | None = None, after: str | None = None, limit: int = 50) -> Page[CustomerRow]:
        """Customers newest first. ``search``: a Stripe id (``cus_…``) or owner id (exact), or the start of
        an email or name (any case). ``status``: a subscription status (or "none"); ``plan``: a product id."""
        validation.limit(limit, maximum=500)
        start = validation.cursor_row(after, "a")
        stmt = self._customer_query(search, status, plan, delinquent)
        with self._ctx.session_factory() as s:
            found = _matches(s, search, start)
            if found is not None:     # every match is known: the page is those ids, newest first
                narrowed = status is not None or plan is not None or delinquent is not None
                ids = sorted(found, reverse=True)
                stmt = self._customer_query(None, status, plan, delinquent).where(
                    BillingCustomer.id.in_(ids if narrowed else ids[:limit + 1]))
            elif start is not None:
                stmt = stmt.where(BillingCustomer.id < start)
            rows, cursor = validation.keyset_page(list(s.scalars(stmt.limit(limit + 1))), limit, "a")
            current = _current_subscriptions(s, [r.stripe_id for r in rows])
        return Page[CustomerRow](items=[_row(r, current.get(r.stripe_id)) for r in rows], next_cursor=cursor)

    def export_customers(self, *, search: str | None = None, status: str | None = None, plan: str | None = None,
                         delinquent: bool | None = None) -> Iterator[list[str]]:
        """Every matching customer as a row of ``EXPORT_COLUMNS`` (text), read in keyset chunks so a large
        export never holds more than a chunk in memory. Arguments are checked before the first row."""
        base = self._customer_query(search, status, plan, delinquent).limit(_EXPORT_CHUNK)

        def rows() -> Iterator[list[str]]:
            last: int | None = None
            while True:
                stmt = base if last is None else base.where(BillingCustomer.id < last)
                with self._ctx.session_factory() as s:
                    chunk = list(s.scalars(stmt))
                    current = _current_subscriptions(s, [r.stripe_id for r in chunk])
                for r in chunk:
                    row = _row(r, current.get(r.stripe_id))
                    c = row.customer
                    yield [c.id, c.owner_id or "", c.email or "", c.name or "", row.status or "", row.plan or "",
                           "yes" if c.delinquent else "no", c.currency or "", str(c.balance),
                           c.created.isoformat() if c.created else ""]
                if len(chunk) < _EXPORT_CHUNK:
                    return
                last = chunk[-1].id

        return rows()

    def customer_query_sql(self, *, search: str | None = None, after: str | None = None, limit: int = 50) -> Any:
        """The statement behind the customer list that depends on an index (for EXPLAIN in tests and
        benchmarks): an email or name search's match query, else the page's own query."""
        start = validation.cursor_row(after, "a")
        matches = _match_query(search, start) if search is not None else None
        if matches is not None:
            return matches
        stmt = self._customer_query(search, None, None, None).limit(validation.limit(limit, maximum=500))
        return stmt if start is None else stmt.where(BillingCustomer.id < start)

    def _customer_query(self, search: str | None, status: str | None, plan: str | None,
                        delinquent: bool | None) -> Any:
        c = BillingCustomer
        # the list never shows the full Stripe object (``data``): leaving it out halves the rows read
        stmt = select(c).options(defer(c.data)).where(c.deleted_at.is_(None)).order_by(c.id.desc())
        if search is not None:
            stmt = stmt.where(_search(search))
        if status is not None:
            validation.choice(status, "status", CUSTOMER_STATUSES)
        if plan is not None:
            validation.stripe_id(plan, "prod", "plan")
        if delinquent is not None:
            stmt = stmt.where(c.delinquent.is_(validation.boolean(delinquent, "delinquent")))
        if status == "none":
            stmt = stmt.where(~exists().where(BillingSubscription.customer_stripe_id == c.stripe_id))
            if plan is not None:
                stmt = stmt.where(false())
        elif status is not None or plan is not None:
            s, i = BillingSubscription, BillingSubscriptionItem
            cond = [s.customer_stripe_id == c.stripe_id]
            if status is not None:
                cond.append(s.status == status)
            if plan is not None:
                cond.append(exists().where(i.subscription_id == s.id, i.product_stripe_id == plan))
            stmt = stmt.where(exists().where(and_(*cond)))
        return stmt

    # --- subscriptions -----------------------------------------------------------------------------
    def subscriptions(self, *, status: str | None = None, plan: str | None = None, customer: str | None = None,
                      after: str | None = None, limit: int = 50) -> Page[Subscription]:
        """Subscriptions newest first, by status, plan (a product id) and customer (a Stripe id)."""
        validation.limit(limit, maximum=500)
        start = validation.cursor_row(after, "a")
        s, i = BillingSubscription, BillingSubscriptionItem
        stmt = select(s).order_by(s.id.desc()).limit(limit + 1)
        if customer is not None:
            stmt = stmt.where(s.customer_stripe_id == validation.stripe_id(customer, "cus", "customer"))
        if status is not None:
            stmt = stmt.where(s.status == validation.choice(status, "status", SUBSCRIPTION_STATUSES))
        if plan is not None:
            validation.stripe_id(plan, "prod", "plan")
            stmt = stmt.where(exists().where(i.subscription_id == s.id, i.product_stripe_id == plan))
        if start is not None:
            stmt = stmt.where(s.id < start)
        with self._ctx.session_factory() as session:
            rows, cursor = validation.keyset_page(list(session.scalars(stmt)), limit, "a")
            items = [Subscription.from_row(r) for r in rows]
        return Page[Subscription](items=items, next_cursor=cursor)

    def invoices(self, customer: str, *, limit: int = 50) -> list[Invoice]:
        """The customer's invoices (by Stripe id, with or without an owner), newest first."""
        validation.stripe_id(customer, "cus", "customer")
        validation.limit(limit, maximum=500)
        stmt = select(BillingInvoice).where(BillingInvoice.customer_stripe_id == customer) \
            .order_by(BillingInvoice.stripe_created.desc(), BillingInvoice.id.desc()).limit(limit)
        with self._ctx.session_factory() as s:
            return [Invoice.from_row(r) for r in s.scalars(stmt)]

    # --- webhook events and reconciliation -------------------------------------------------------
    def webhook_event(self, event_id: str) -> dict[str, Any]:
        """One stored Stripe event: its type, object, source, times and raw payload."""
        validation.stripe_id(event_id, "evt", "event_id")
        with self._ctx.session_factory() as s:
            row = s.scalars(select(BillingWebhookEvent).where(BillingWebhookEvent.stripe_event_id == event_id)).first()
            if row is None:
                raise NotFoundError(f"No stored webhook event {event_id!r}.", param="event_id")
            return {"id": row.stripe_event_id, "type": row.type, "object_id": row.object_id, "source": row.source,
                    "created": row.stripe_created, "received_at": row.received_at, "payload": row.payload}

    def run_reconcile(self, *, started_by: str, dry_run: bool = False, force: bool = False) -> dict[str, Any]:
        """Run reconciliation now, recorded as started from the dashboard by ``started_by`` (its error is
        recorded too, and raised again). ``dry_run`` and ``force`` are the reconcile service's own (a dry run
        writes nothing; force removes local rows past the removal guard)."""
        by = validation.text(started_by, "started_by", max_length=120, required=True) or ""
        self._reconcile.run(dry_run=dry_run, force=force, source="admin", started_by=by)
        return self.reconcile_runs(limit=1)[0]

    def reconcile_runs(self, *, limit: int = 10) -> list[dict[str, Any]]:
        """The latest recorded runs, from anywhere (dashboard, CLI, hourly task, code), newest first;
        ``billing.reconcile.runs()`` pages through all of them."""
        return [run.model_dump() for run in self._reconcile.runs(limit=limit).items]

    # --- timeline ----------------------------------------------------------------------------------
    def timeline(self, customer_id: str, *, limit: int = 200) -> list[TimelineEntry]:
        """What happened to the customer, newest first: subscription changes (the ledger), invoices and
        their payments, the Stripe events about the customer, its subscriptions and invoices, and the audit
        log's entries for its owner (admin actions among them)."""
        validation.stripe_id(customer_id, "cus", "customer_id")
        validation.limit(limit, maximum=1000)
        ledger = BillingLedgerEntry
        with self._ctx.session_factory() as s:
            owner = s.scalar(select(BillingCustomer.owner_id).where(BillingCustomer.stripe_id == customer_id))
            changes = list(s.scalars(select(ledger).where(ledger.customer_stripe_id == customer_id,
                                                          ledger.source != "correction")
                                     .order_by(ledger.effective_at.desc(), ledger.rank.desc()).limit(limit)))
            invoices = list(s.scalars(select(BillingInvoice).where(BillingInvoice.customer_stripe_id == customer_id)
                                      .order_by(BillingInvoice.id.desc()).limit(limit)))
            subs = list(s.scalars(select(BillingSubscription.stripe_id)
                                  .where(BillingSubscription.customer_stripe_id == customer_id)))
            about = {customer_id, *subs, *(i.stripe_id for i in invoices)}
            events = list(s.scalars(select(BillingWebhookEvent).where(BillingWebhookEvent.object_id.in_(about))
                                    .order_by(BillingWebhookEvent.id.desc()).limit(limit)))
            audited = [] if owner is None else list(s.scalars(
                select(BillingAuditEvent).where(BillingAuditEvent.owner_id == owner)
                .order_by(BillingAuditEvent.id.desc()).limit(limit)))
            plans = _plan_names(s, {p for c in changes for p in ledger_prices(c)})
        entries = [ledger_entry(c, plans) for c in changes]
        for invoice in invoices:
            entries.extend(invoice_entries(invoice))
        entries.extend(webhook_entry(e) for e in events)
        entries.extend(audit_entry(a) for a in audited)
        entries.sort(key=lambda e: e.at, reverse=True)
        return entries[:limit]


def _plan_names(session: Any, price_ids: set[str]) -> dict[str, str]:
    """Price id -> "Product, monthly" (or the price's nickname), for the prices the catalog mirror knows."""
    if not price_ids:
        return {}
    rows = session.execute(select(BillingPrice.stripe_id, BillingPrice.nickname, BillingPrice.interval,
                                  BillingProduct.name)
                           .join(BillingProduct, BillingProduct.stripe_id == BillingPrice.product)
                           .where(BillingPrice.stripe_id.in_(price_ids)))
    every = {"month": "monthly", "year": "yearly", "week": "weekly", "day": "daily"}
    return {pid: f"{product}, {nickname or every.get(interval or '', 'one-off')}"
            for pid, nickname, interval, product in rows}


def _search(value: Any) -> Any:
    q = validation.text(value, "search", max_length=200, required=True) or ""
    c = BillingCustomer
    if q.startswith("cus_"):
        return c.stripe_id == q
    prefix = _like_prefix(q)
    email = func.lower(c.email).like(prefix, escape="\\")
    if "@" in q:
        return email
    return or_(email, func.lower(c.name).like(prefix, escape="\\"), c.owner_id == q)


def _like_prefix(q: str) -> str:
    """``q`` lowercased as a LIKE prefix pattern, its wildcards escaped."""
    return q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _match_query(search: Any, start: int | None) -> Any | None:
    """An email or name prefix search's matching ids (below the cursor ``start``), from the prefix indexes
    alone (migration 0012: an index-only scan on PostgreSQL), each branch capped at ``SEARCH_CAP`` + 1 rows.
    None for a Stripe id search (an equality on a unique index already)."""
    q = validation.text(search, "search", max_length=200, required=True) or ""
    if q.startswith("cus_"):
        return None
    c = BillingCustomer
    prefix = _like_prefix(q)
    conditions: list[Any] = [func.lower(c.email).like(prefix, escape="\\")]
    if "@" not in q:
        conditions += [func.lower(c.name).like(prefix, escape="\\"), c.owner_id == q]
    branches = []
    for n, condition in enumerate(conditions):
        branch = select(c.id, literal(n).label("branch")).where(condition, c.deleted_at.is_(None))
        if start is not None:
            branch = branch.where(c.id < start)
        inner = branch.limit(SEARCH_CAP + 1).subquery()   # a subquery: SQLite takes no LIMIT in a UNION arm
        branches.append(select(inner.c.id, inner.c.branch))
    return union_all(*branches)


def _matches(s: Session, search: Any, start: int | None) -> set[int] | None:
    """Every customer id an email or name prefix search matches, or None when the search is a Stripe id,
    or when a prefix matches more than ``SEARCH_CAP`` customers: then matches are dense and the page's own
    query (newest first on the primary key, filtering as it goes) finds a page of them quickly.

    Why: with ``ORDER BY id DESC LIMIT n`` PostgreSQL's planner walks the primary key backwards and filters,
    betting the matches are spread evenly; when they are old customers it reads most of the table (110 ms
    at 100,000 customers, issue 12). Reading the matches from the prefix index first costs their number."""
    if search is None:
        return None
    stmt = _match_query(search, start)
    if stmt is None:
        return None
    ids: set[int] = set()
    per_branch: dict[int, int] = {}
    for row_id, branch in s.execute(stmt):
        ids.add(row_id)
        per_branch[branch] = per_branch.get(branch, 0) + 1
    return None if any(n > SEARCH_CAP for n in per_branch.values()) else ids


def _current_subscriptions(s: Session, customer_ids: list[str]) -> dict[str, BillingSubscription]:
    """Per customer, its newest live subscription, else its newest one."""
    if not customer_ids:
        return {}
    found: dict[str, BillingSubscription] = {}
    rows = s.scalars(select(BillingSubscription).where(BillingSubscription.customer_stripe_id.in_(customer_ids))
                     .order_by(BillingSubscription.id))
    for sub in rows:
        held = found.get(sub.customer_stripe_id)
        if held is None or sub.status in LIVE or held.status not in LIVE:
            found[sub.customer_stripe_id] = sub
    return found


def _row(row: BillingCustomer, sub: BillingSubscription | None) -> CustomerRow:
    plan = None
    if sub is not None:
        plan = next((i.product_stripe_id for i in sub.items if i.usage_type != "metered"), None)
    return CustomerRow(customer=Customer.from_row(row), status=sub.status if sub else None, plan=plan,
                       subscription=sub.stripe_id if sub else None)

