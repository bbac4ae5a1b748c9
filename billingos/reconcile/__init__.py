from .schemas import KindReport, ReconcileReport
from .service import Reconciler, ReconcileService

__all__ = ["KindReport", "ReconcileReport", "ReconcileService", "Reconciler"]
