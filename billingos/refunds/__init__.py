from .schemas import CreditNote, Refund, Refundable
from .service import CREDIT_NOTE_REASONS, REFUND_REASONS, SETTLEMENTS, RefundService

__all__ = ["CREDIT_NOTE_REASONS", "REFUND_REASONS", "SETTLEMENTS", "CreditNote", "Refund", "RefundService",
           "Refundable"]
