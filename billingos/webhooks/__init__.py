from .intake import MAX_BODY, WebhookPayloadError, declared_length
from .mirrors import Mirror, Sync
from .models import BillingWebhookEvent
from .schemas import Receipt, WebhookContext, WebhookEventInfo
from .service import WebhookService
from .signature import WebhookSignatureError, verify_signature

__all__ = ["MAX_BODY", "BillingWebhookEvent", "Mirror", "Receipt", "Sync", "WebhookContext", "WebhookEventInfo",
           "WebhookPayloadError", "WebhookService", "WebhookSignatureError", "declared_length", "verify_signature"]
