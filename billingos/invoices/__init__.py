from .models import BillingInvoice
from .schemas import Invoice, InvoiceLine
from .service import InvoiceService
from .sync import invoice_line, sync_invoice

__all__ = ["BillingInvoice", "Invoice", "InvoiceLine", "InvoiceService", "invoice_line", "sync_invoice"]
