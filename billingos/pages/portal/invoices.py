"""Invoices: list, detail (lines, tax, discounts, status) and the PDF."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..results import File, Redirect, Render, Result

if TYPE_CHECKING:
    from ..core import PageContext

PAGE = 25


def invoice_list(ctx: PageContext) -> Result:
    """The owner's invoices, newest first, ``PAGE`` at a time (keyset: ``?after=`` a page's cursor)."""
    after = ctx.query.get("after") or None
    page = ctx.billing.invoices.page(ctx.owner_id, after=after, limit=PAGE, include_drafts=False)
    return Render("portal/invoices.html", {
        "title": "Invoices", "nav": "invoices", "invoices": page.items,
        "older_url": ctx.url("portal.invoices", after=page.next_cursor) if page.next_cursor else None,
        "newest_url": ctx.url("portal.invoices") if after else None})


def invoice_detail(ctx: PageContext) -> Result:
    invoice = ctx.billing.invoices.get(ctx.params["invoice_id"], owner_id=ctx.owner_id)
    if invoice.status == "draft":
        from ...errors import NotFoundError
        raise NotFoundError("Draft invoices are not shown.")
    discount = max(0, invoice.subtotal + invoice.tax - invoice.total)
    return Render("portal/invoice.html", {"title": f"Invoice {invoice.number or ''}".strip(), "nav": "invoices",
                                          "invoice": invoice, "discount": discount})


def invoice_pdf(ctx: PageContext) -> Result:
    owner, invoice_id = ctx.owner_id, ctx.params["invoice_id"]
    url = ctx.billing.invoices.pdf_url(owner, invoice_id)
    if url is not None:                # real Stripe: its own PDF, straight from Stripe
        return Redirect(url, 302)
    invoice = ctx.billing.invoices.get(invoice_id, owner_id=owner)
    return File(ctx.billing.invoices.pdf(owner, invoice_id), "application/pdf",
                f"invoice-{invoice.number or invoice.id}.pdf")
