"""The customers reconciler: Stripe's full list against the local rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..reconcile import Reconciler
from ..stripe_api import call_stripe, plain
from .models import BillingCustomer
from .schemas import Customer
from .webhooks import fetch_current

if TYPE_CHECKING:
    from ..billing import Billing


def customers_reconciler(billing: Billing) -> Reconciler:
    def list_remote() -> Iterator[dict[str, Any]]:
        page = call_stripe(billing.stripe.v1.customers.list, params={"limit": 100})
        for obj in page.auto_paging_iter():
            yield plain(obj)

    def local_ids() -> set[str]:
        with billing.session_factory() as s:
            return set(s.scalars(select(BillingCustomer.stripe_id).where(BillingCustomer.deleted_at.is_(None))))

    def apply(obj: dict[str, Any]) -> str | None:
        with billing.transaction() as session:
            row = session.scalars(select(BillingCustomer).where(BillingCustomer.stripe_id == obj["id"])).first()
            before = None if row is None else Customer.from_row(row)
            after = billing.customers.apply(session, obj)
        if before is None:
            return "created"
        return "updated" if before != after else None

    def remove(stripe_id: str) -> bool:
        current = fetch_current(billing, {"id": stripe_id})
        if not current.get("deleted"):
            return False
        with billing.transaction() as session:
            billing.customers.apply(session, current)
        return True

    return Reconciler("customers", list_remote, local_ids, apply, remove)
