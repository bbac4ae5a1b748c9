from .models import BillingCustomer
from .schemas import Customer, LinkConflict, LinkReport, Page
from .service import CustomerService, sync_customer

__all__ = ["BillingCustomer", "Customer", "CustomerService", "LinkConflict", "LinkReport", "Page", "sync_customer"]
