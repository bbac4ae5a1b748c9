"""An invoice as a PDF, rendered locally with fpdf2 (offline, with the emulator, where Stripe's own
``invoice_pdf`` is not reachable). Core fonts: text outside Windows-1252 is shown as "?"."""

from __future__ import annotations

from datetime import datetime

from ..money import CURRENCY_EXPONENTS, Money
from .schemas import Invoice

__all__ = ["render_invoice_pdf"]


def _text(value: object) -> str:
    return str(value).encode("cp1252", "replace").decode("cp1252")


def _money(amount: int, currency: str) -> str:
    if currency.lower() not in CURRENCY_EXPONENTS:
        return f"{amount} {currency.upper()}"
    return Money(amount, currency.lower()).format()


def _date(value: datetime | None) -> str:
    return f"{value.day} {value:%b %Y}" if value else "-"


def render_invoice_pdf(invoice: Invoice, *, customer_name: str | None, customer_email: str | None,
                       seller: str = "Invoice") -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(_text(f"Invoice {invoice.number or invoice.id}"))
    pdf.set_creator("billingos")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 12, _text(seller), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    rows = [("Invoice number", invoice.number or "(draft)"), ("Date", _date(invoice.created)),
            ("Status", (invoice.status or "").replace("_", " ").capitalize())]
    if invoice.period_start and invoice.period_end:
        rows.append(("Period", f"{_date(invoice.period_start)} - {_date(invoice.period_end)}"))
    if customer_name or customer_email:
        rows.append(("Billed to", ", ".join(x for x in (customer_name, customer_email) if x)))
    for label, value in rows:
        pdf.cell(45, 7, _text(label))
        pdf.cell(0, 7, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    width = pdf.epw
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(width - 40, 8, "Description", border="B")
    pdf.cell(40, 8, "Amount", border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.lines:
        desc = line.description or "Item"
        if line.quantity and line.quantity > 1:
            desc += f" (x{line.quantity})"
        y = pdf.get_y()
        pdf.multi_cell(width - 40, 7, _text(desc), new_x="RIGHT", new_y="TOP")
        pdf.cell(40, 7, _text(_money(line.amount, invoice.currency)), align="R")
        pdf.set_y(max(pdf.get_y() + 7, y + 7))
    pdf.ln(3)
    totals = [("Subtotal", invoice.subtotal)]
    discount = invoice.subtotal + invoice.tax - invoice.total
    if discount > 0:
        totals.append(("Discount", -discount))
    if invoice.tax:
        totals.append(("Tax", invoice.tax))
    totals += [("Total", invoice.total), ("Amount paid", invoice.amount_paid), ("Amount due", invoice.amount_remaining)]
    for label, amount in totals:
        pdf.set_font("Helvetica", "B" if label in ("Total", "Amount due") else "", 10)
        pdf.cell(width - 40, 7, _text(label), align="R")
        pdf.cell(40, 7, _text(_money(amount, invoice.currency)), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
