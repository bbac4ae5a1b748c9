"""Dunning: billingos's retries of failed subscription payments (see ``service.py``, docs/dunning.md)."""

from .models import BillingDunningCase
from .schemas import DunningCase
from .service import HARD_DECLINES, DunningService

__all__ = ["HARD_DECLINES", "BillingDunningCase", "DunningCase", "DunningService"]
