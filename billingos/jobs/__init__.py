"""The durable-work primitive: see ``service.py``."""

from .models import BillingJob
from .schemas import JobInfo
from .service import Job, Jobs, LeaseLostError, NewJob, PermanentJobError, Queue

__all__ = ["BillingJob", "Job", "JobInfo", "Jobs", "LeaseLostError", "NewJob", "PermanentJobError", "Queue"]
