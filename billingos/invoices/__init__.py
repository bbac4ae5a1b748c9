from .models import BillingInvoice
from .schemas import Invoice, InvoiceLine
from .service import InvoiceService
from .sync import sync_invoice

__all__ = ["BillingInvoice", "Invoice", "InvoiceLine", "InvoiceService", "sync_invoice"]
