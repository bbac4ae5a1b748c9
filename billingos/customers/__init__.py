from .models import BillingCustomer
from .schemas import Customer, Erasure, LinkConflict, LinkReport, Page
from .service import CustomerService, sync_customer

__all__ = ["BillingCustomer", "Customer", "CustomerService", "Erasure", "LinkConflict", "LinkReport", "Page",
           "sync_customer"]
