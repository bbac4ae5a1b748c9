from .schemas import CustomerRow, TimelineEntry
from .service import CUSTOMER_STATUSES, EXPORT_COLUMNS, AdminService

__all__ = ["CUSTOMER_STATUSES", "EXPORT_COLUMNS", "AdminService", "CustomerRow", "TimelineEntry"]
