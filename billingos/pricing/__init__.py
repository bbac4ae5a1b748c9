"""``billingos.pricing``: pure functions that rate prices and prorate them, with Stripe's semantics.

The emulator rates invoice lines with these same functions, and ``billing.usage.projected_invoice``
uses them for the cost so far and the projection, so the projection equals the invoice Stripe makes.
"""

from __future__ import annotations

from .proration import ProrationLines, change_lines, project, prorate, proration_fraction
from .tiers import (
    MAX_QUANTITY,
    Rated,
    TierLine,
    amount_for,
    graduated,
    package_units,
    per_unit,
    rate,
    round_half_up,
    to_decimal,
    volume,
)

__all__ = ["MAX_QUANTITY", "ProrationLines", "Rated", "TierLine", "amount_for", "change_lines", "graduated",
           "package_units", "per_unit", "project", "prorate", "proration_fraction", "rate", "round_half_up",
           "to_decimal", "volume"]
