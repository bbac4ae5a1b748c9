from .models import BillingPaymentMethod
from .schemas import PaymentMethod, SetupStart
from .service import PaymentMethodService
from .sync import sync_payment_method

__all__ = ["BillingPaymentMethod", "PaymentMethod", "PaymentMethodService", "SetupStart", "sync_payment_method"]
