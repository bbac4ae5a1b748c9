from .models import BillingSubscription, BillingSubscriptionChange, BillingSubscriptionItem
from .schemas import InvoicePreview, PreviewLine, Subscription, SubscriptionItem
from .service import SubscriptionService
from .sync import sync_subscription

__all__ = ["BillingSubscription", "BillingSubscriptionChange", "BillingSubscriptionItem", "InvoicePreview",
           "PreviewLine", "Subscription", "SubscriptionItem", "SubscriptionService", "sync_subscription"]
