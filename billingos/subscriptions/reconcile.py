"""Reconcilers for subscriptions and invoices: Stripe's full lists (every status) against local rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..invoices.models import BillingInvoice
from ..invoices.schemas import Invoice
from ..reconcile import Reconciler
from ..stripe_api import call_stripe, plain
from .models import BillingSubscription
from .schemas import Subscription

if TYPE_CHECKING:
    from ..billing import Billing


def _listing(fn: Callable[..., Any], params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for obj in call_stripe(fn, params={"limit": 100, **params}).auto_paging_iter():
        yield plain(obj)


def subscriptions_reconciler(billing: Billing) -> Reconciler:
    def apply(obj: dict[str, Any]) -> str | None:
        with billing.transaction() as session:
            row = session.scalars(select(BillingSubscription).where(BillingSubscription.stripe_id == obj["id"])).first()
            before = Subscription.from_row(row) if row is not None else None
            from ..invoices.webhooks import _ensure_customer
            from ..webhooks.schemas import WebhookContext
            _ensure_customer(WebhookContext(billing=billing, event={}, session=session), obj)
            after = billing.subscriptions.apply(session, obj)
        return "created" if before is None else ("updated" if before != after else None)

    def local_ids() -> set[str]:
        with billing.session_factory() as s:
            return set(s.scalars(select(BillingSubscription.stripe_id)))

    return Reconciler("subscriptions", lambda: _listing(billing.stripe.v1.subscriptions.list, {"status": "all"}),
                      local_ids, apply, lambda sid: False)


def invoices_reconciler(billing: Billing) -> Reconciler:
    def apply(obj: dict[str, Any]) -> str | None:
        with billing.transaction() as session:
            row = session.scalars(select(BillingInvoice).where(BillingInvoice.stripe_id == obj["id"])).first()
            before = Invoice.from_row(row) if row is not None else None
            after = billing.invoices.apply(session, obj)
        return "created" if before is None else ("updated" if before != after else None)

    def local_ids() -> set[str]:
        with billing.session_factory() as s:
            return set(s.scalars(select(BillingInvoice.stripe_id)))

    return Reconciler("invoices", lambda: _listing(billing.stripe.v1.invoices.list, {}), local_ids, apply,
                      lambda sid: False)
