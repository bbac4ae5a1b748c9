"""``billing.invoices``: the local copy of each customer's invoices, kept by the ``invoice`` mirror."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, String, and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session, defer

from .. import validation
from ..clock import utc
from ..customers import Page
from ..domain_events import CustomerSynced, InvoiceSynced, PaymentFailed, PaymentSucceeded
from ..errors import ConflictError, NotFoundError, StripeUnavailableError
from ..freshness import apply_fresh
from ..reconcile import Reconciler
from ..stripe_api import call_stripe, plain
from ..webhooks import Mirror, Sync
from .models import BillingInvoice
from .pdf import render_invoice_pdf
from .schemas import Invoice
from .sync import sync_invoice

if TYPE_CHECKING:
    from ..context import Context
    from ..customers import CustomerService

INVOICE_EVENTS = ("created", "finalized", "paid", "payment_failed", "payment_action_required", "voided",
                  "marked_uncollectible", "updated", "payment_succeeded", "deleted", "sent", "finalization_failed",
                  "overdue", "will_be_due")
STATUSES = ("draft", "open", "paid", "uncollectible", "void")


class InvoiceService:
    def __init__(self, ctx: Context, *, customers: CustomerService) -> None:
        self._ctx = ctx
        self._customers = customers
        self._pages: dict[tuple[bool, bool], Any] = {}
        ctx.events.subscribe_in_transaction(CustomerSynced, self._customer_synced)

    def list(self, owner_id: str, *, status: str | None = None, limit: int = 50) -> list[Invoice]:
        """The owner's invoices, newest first."""
        validation.owner_id(owner_id)
        validation.limit(limit)
        if status is not None:
            validation.choice(status, "status", STATUSES)
        stmt = select(BillingInvoice).where(BillingInvoice.owner_id == owner_id)
        if status is not None:
            stmt = stmt.where(BillingInvoice.status == status)
        stmt = (stmt.order_by(BillingInvoice.stripe_created.desc(), BillingInvoice.id.desc()).limit(limit)
                .options(defer(BillingInvoice.data)))      # the whole Stripe object: not needed for a snapshot
        with self._ctx.session_factory() as session:
            return [Invoice.from_row(r) for r in session.scalars(stmt)]

    def page(self, owner_id: str, *, after: str | None = None, limit: int = 25,
             include_drafts: bool = True) -> Page[Invoice]:
        """The owner's invoices newest first, ``limit`` at a time: pass a page's ``next_cursor`` as ``after``
        for the next (keyset paging: a deep page costs what the first does). ``include_drafts=False`` leaves
        out drafts (what a customer is shown)."""
        validation.owner_id(owner_id)
        validation.limit(limit)
        validation.boolean(include_drafts, "include_drafts")
        start = validation.cursor_row(after, "i")
        stmt = self._page_statement(include_drafts, start is not None)
        with self._ctx.session_factory() as session:
            found = list(session.connection().execute(stmt, {"owner": owner_id, "start": start, "n": limit + 1}))
        rows, cursor = validation.keyset_page(found, limit, "i")
        return Page[Invoice](items=[Invoice.from_row(r) for r in rows], next_cursor=cursor)

    def _page_statement(self, drafts: bool, after: bool) -> Any:
        """``page``'s Core statement for each shape, built once: pages are read on every portal visit, and
        building an ORM statement costs more than running it."""
        if (drafts, after) not in self._pages:
            inv = BillingInvoice.__table__.c
            owner, start = bindparam("owner", type_=String), bindparam("start", type_=BigInteger)
            stmt = select(*[c for c in inv if c.name != "data"]).where(inv.owner_id == owner)
            if not drafts:
                stmt = stmt.where(inv.status != "draft")
            if after:                   # after the cursor's invoice in (created, id) order
                created = select(inv.stripe_created).where(inv.id == start, inv.owner_id == owner).scalar_subquery()
                stmt = stmt.where(or_(inv.stripe_created < created,
                                      and_(inv.stripe_created == created, inv.id < start)))
            self._pages[drafts, after] = stmt.order_by(inv.stripe_created.desc(), inv.id.desc()).limit(
                bindparam("n"))
        return self._pages[drafts, after]

    def get(self, invoice_id: str, *, owner_id: str | None = None) -> Invoice:
        """One invoice by Stripe id. With ``owner_id``, another owner's invoice is NotFound (never 403)."""
        validation.stripe_id(invoice_id, "in", "invoice_id")
        stmt = select(BillingInvoice).where(BillingInvoice.stripe_id == invoice_id)
        if owner_id is not None:
            stmt = stmt.where(BillingInvoice.owner_id == validation.owner_id(owner_id))
        with self._ctx.session_factory() as session:
            row = session.scalars(stmt).first()
            if row is None:
                raise NotFoundError(f"No invoice {invoice_id!r}.", param="invoice_id")
            return Invoice.from_row(row)

    def pdf_url(self, owner_id: str, invoice_id: str) -> str | None:
        """Stripe's own PDF of the owner's invoice (``invoice_pdf``) with real Stripe; None offline (the
        emulator or a Stripe-compatible server), where ``pdf()`` renders one. Another owner's is NotFound."""
        invoice = self.get(invoice_id, owner_id=validation.owner_id(owner_id))
        if self._ctx.config.uses_emulator or self._ctx.config.stripe_api_base:
            return None
        return invoice.invoice_pdf

    def pdf(self, owner_id: str, invoice_id: str) -> bytes:
        """The owner's invoice as PDF bytes: downloaded from Stripe's ``invoice_pdf`` with real Stripe,
        rendered locally (fpdf2) offline. Another owner's invoice is NotFound; a draft has no PDF."""
        invoice = self.get(invoice_id, owner_id=validation.owner_id(owner_id))
        if invoice.status == "draft":
            raise ConflictError("A draft invoice has no PDF yet: it gets one when it is finalized.",
                                param="invoice_id")
        url = self.pdf_url(owner_id, invoice_id)
        if url is not None:
            return _download(url)
        customer = self._customers.get(stripe_id=invoice.customer)
        return render_invoice_pdf(invoice, customer_name=customer.name, customer_email=customer.email)

    def apply(self, session: Session, obj: dict[str, Any]) -> Invoice:
        """sync_invoice in the caller's transaction; ``InvoiceSynced`` (the ``invoice_paid`` signal) after it."""
        before = session.scalar(select(BillingInvoice.status).where(BillingInvoice.stripe_id == obj["id"]))
        snapshot = Invoice.from_row(sync_invoice(session, obj, now=self._ctx.now()))
        self._ctx.events.publish(session, InvoiceSynced(before, snapshot))
        return snapshot

    def fetch(self, invoice_id: str) -> dict[str, Any] | None:
        """The invoice as Stripe has it now; None when Stripe has no such invoice (a deleted draft)."""
        validation.stripe_id(invoice_id, "in", "invoice_id")
        try:
            return plain(call_stripe(self._ctx.stripe.v1.invoices.retrieve, invoice_id))
        except NotFoundError:
            return None

    # --- webhooks and reconcile ---------------------------------------------------------------
    def mirrors(self) -> builtins.list[Mirror]:
        """``invoice.*``: fetch the invoice once for its pending events, sync it. (Since API version
        2025-03-31.basil a payment intent no longer names its invoice; the invoice's own events carry every
        payment outcome, so ``payment_intent.*`` events are stored for the host and not mirrored.)"""
        events = tuple(f"invoice.{n}" for n in INVOICE_EVENTS)
        return [Mirror("invoice", events, fetch=self.fetch, apply=self._apply_sync, target=_invoice_of,
                       prepare=lambda current: self._customers.ensure(_customer_of(current)))]

    def _apply_sync(self, session: Session, sync: Sync) -> None:
        if sync.current is None:       # gone in Stripe (a deleted draft): so is the local copy
            session.execute(delete(BillingInvoice).where(BillingInvoice.stripe_id == sync.object_id))
            return
        invoice = self.apply(session, sync.current)
        for event in sync.events:
            if event["type"] == "invoice.payment_failed":
                obj = event["data"]["object"]
                self._ctx.events.publish(session, PaymentFailed(
                    invoice, int(obj.get("attempt_count") or invoice.attempt_count),
                    utc(obj.get("next_payment_attempt")) if obj.get("next_payment_attempt") else None))
            elif event["type"] == "invoice.payment_succeeded":
                self._ctx.events.publish(session, PaymentSucceeded(invoice))

    def _customer_synced(self, session: Session, event: CustomerSynced) -> None:
        """A customer got its owner: its invoices follow in the same transaction."""
        owner = event.after.owner_id
        if owner is not None and (event.before is None or event.before.owner_id != owner):
            session.execute(update(BillingInvoice).where(
                BillingInvoice.customer_stripe_id == event.after.id,
                BillingInvoice.owner_id.is_distinct_from(owner)).values(owner_id=owner))

    def import_customer(self, customer_id: str) -> int:
        """Sync every invoice of one Stripe customer (``customers.link``): one paginated list call."""
        page = call_stripe(self._ctx.stripe.v1.invoices.list, params={"customer": customer_id, "limit": 100})
        count = 0
        for obj in page.auto_paging_iter():
            data = plain(obj)
            apply_fresh(self._ctx, _constant(data), self.apply, name=data["id"], refetch=self._refetch)
            count += 1
        return count

    def _refetch(self, invoice_id: str) -> dict[str, Any]:
        return plain(call_stripe(self._ctx.stripe.v1.invoices.retrieve, invoice_id))

    def reconciler(self) -> Reconciler:
        def listing() -> Iterator[dict[str, Any]]:
            for obj in call_stripe(self._ctx.stripe.v1.invoices.list, params={"limit": 100}).auto_paging_iter():
                yield plain(obj)

        def local_ids() -> set[str]:
            with self._ctx.session_factory() as s:
                return set(s.scalars(select(BillingInvoice.stripe_id)))

        def apply(session: Session, obj: dict[str, Any]) -> str | None:
            row = session.scalars(select(BillingInvoice).where(BillingInvoice.stripe_id == obj["id"])).first()
            before = Invoice.from_row(row) if row is not None else None
            after = self.apply(session, obj)
            return "created" if before is None else ("updated" if before != after else None)

        return Reconciler("invoices", listing, local_ids, apply, self.mirrors()[0])


def _download(url: str) -> bytes:
    """Stripe's hosted PDF (a redirect to a short-lived file URL), at most 20 MiB."""
    import urllib.request
    if not url.startswith("https://"):
        raise StripeUnavailableError("Stripe gave no PDF address for this invoice.")
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return bytes(response.read(20 * 1024 * 1024))
    except OSError as e:
        raise StripeUnavailableError(f"Stripe's invoice PDF could not be downloaded: {e}") from None


def _invoice_of(event: Mapping[str, Any]) -> str | None:
    """The invoice an event is about (``invoice.upcoming`` is a preview: there is no invoice yet)."""
    invoice = event["data"]["object"].get("id")
    return invoice if event["type"] != "invoice.upcoming" and isinstance(invoice, str) else None


def _customer_of(obj: Mapping[str, Any] | None) -> str | None:
    if obj is None:
        return None
    customer = obj.get("customer")
    return customer.get("id") if isinstance(customer, dict) else customer


def _constant(data: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    return lambda: data
