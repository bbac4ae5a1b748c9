from .models import BillingLock, BillingWebhookEvent
from .schemas import Receipt, WebhookContext, WebhookEventInfo
from .service import WebhookPayloadError, WebhookService, lock_object
from .signature import WebhookSignatureError, verify_signature

__all__ = ["BillingLock", "BillingWebhookEvent", "Receipt", "WebhookContext", "WebhookEventInfo",
           "WebhookPayloadError", "WebhookService", "WebhookSignatureError", "lock_object", "verify_signature"]
