"""``billing.invoices``: the local copy of each customer's invoices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import signals, validation
from ..db import on_commit
from ..errors import NotFoundError
from .models import BillingInvoice
from .schemas import Invoice
from .sync import sync_invoice

if TYPE_CHECKING:
    from ..billing import Billing


class InvoiceService:
    def __init__(self, billing: Billing) -> None:
        self._billing = billing

    def list(self, owner_id: str, *, status: str | None = None, limit: int = 50) -> list[Invoice]:
        """The owner's invoices, newest first."""
        validation.owner_id(owner_id)
        validation.limit(limit)
        if status is not None and status not in ("draft", "open", "paid", "uncollectible", "void"):
            raise validation.InvalidInputError(
                "status must be one of draft, open, paid, uncollectible, void.", param="status")
        stmt = select(BillingInvoice).where(BillingInvoice.owner_id == owner_id)
        if status is not None:
            stmt = stmt.where(BillingInvoice.status == status)
        stmt = stmt.order_by(BillingInvoice.stripe_created.desc(), BillingInvoice.id.desc()).limit(limit)
        with self._billing.session_factory() as session:
            return [Invoice.from_row(r) for r in session.scalars(stmt)]

    def get(self, invoice_id: str, *, owner_id: str | None = None) -> Invoice:
        """One invoice by Stripe id. With ``owner_id``, another owner's invoice is NotFound (never 403)."""
        validation.stripe_id(invoice_id, "in", "invoice_id")
        stmt = select(BillingInvoice).where(BillingInvoice.stripe_id == invoice_id)
        if owner_id is not None:
            stmt = stmt.where(BillingInvoice.owner_id == validation.owner_id(owner_id))
        with self._billing.session_factory() as session:
            row = session.scalars(stmt).first()
            if row is None:
                raise NotFoundError(f"No invoice {invoice_id!r}.", param="invoice_id")
            return Invoice.from_row(row)

    def apply(self, session: Session, obj: dict[str, Any]) -> Invoice:
        """sync_invoice in the caller's transaction; ``invoice_paid`` queued for its commit on the paid transition."""
        billing = self._billing
        before = session.scalar(select(BillingInvoice.status).where(BillingInvoice.stripe_id == obj["id"]))
        row = sync_invoice(session, obj, now=billing.now())
        snapshot = Invoice.from_row(row)
        if snapshot.status == "paid" and before != "paid":
            on_commit(session, lambda: signals.invoice_paid.send(billing, invoice=snapshot))
        return snapshot
