from .account import Account
from .models import (
    BillingSubscription,
    BillingSubscriptionItem,
    BillingSubscriptionSchedule,
)
from .schemas import InvoicePreview, PreviewLine, ScheduledChange, Subscription, SubscriptionItem
from .service import SubscriptionService
from .sync import sync_subscription, sync_subscription_schedule

__all__ = ["Account", "BillingSubscription", "BillingSubscriptionItem",
           "BillingSubscriptionSchedule", "InvoicePreview", "PreviewLine", "ScheduledChange", "Subscription",
           "SubscriptionItem", "SubscriptionService", "sync_subscription", "sync_subscription_schedule"]
