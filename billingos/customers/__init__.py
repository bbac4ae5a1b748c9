from .models import BillingCustomer
from .schemas import Customer, Page
from .service import CustomerService, sync_customer

__all__ = ["BillingCustomer", "Customer", "CustomerService", "Page", "sync_customer"]
