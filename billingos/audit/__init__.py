"""The audit log: an append-only record of sensitive operations, written in their own transactions."""

from .schemas import CSV_COLUMNS, AuditEvent
from .scrub import scrub
from .service import AuditService

__all__ = ["CSV_COLUMNS", "AuditEvent", "AuditService", "scrub"]
