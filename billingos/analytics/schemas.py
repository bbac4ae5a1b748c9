"""What ``billing.analytics`` returns: frozen values in the reporting currency (``Money``), ratios as
``Decimal`` (None where a ratio is undefined: nothing to divide by)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..money import Money

__all__ = ["Cohort", "LedgerEntry", "Movement", "Point", "TopCustomer"]


@dataclass(frozen=True)
class Movement:
    """One interval ``[start, end)``: ``mrr_end - mrr_start == new + expansion + reactivation - contraction
    - churn + fx``, exactly (``fx`` is zero in a single currency)."""

    start: datetime
    end: datetime
    mrr_start: Money
    mrr_end: Money
    new: Money
    expansion: Money
    contraction: Money
    churn: Money
    reactivation: Money
    fx: Money
    customers_start: int
    customers_end: int
    new_customers: int
    reactivated_customers: int
    churned_customers: int

    @property
    def net_new(self) -> Money:
        return self.new + self.expansion + self.reactivation - self.contraction - self.churn

    @property
    def customer_churn_rate(self) -> Decimal | None:
        """Customers churned ÷ paying customers at the start."""
        return ratio(self.churned_customers, self.customers_start)

    @property
    def gross_mrr_churn(self) -> Decimal | None:
        """(churn + contraction) ÷ MRR at the start."""
        return ratio(self.churn.amount + self.contraction.amount, self.mrr_start.amount)

    @property
    def net_mrr_churn(self) -> Decimal | None:
        """(churn + contraction − expansion − reactivation) ÷ MRR at the start (negative: net expansion)."""
        return ratio(self.churn.amount + self.contraction.amount - self.expansion.amount - self.reactivation.amount,
                     self.mrr_start.amount)

    @property
    def quick_ratio(self) -> Decimal | None:
        """(new + expansion + reactivation) ÷ (contraction + churn)."""
        return ratio(self.new.amount + self.expansion.amount + self.reactivation.amount,
                     self.contraction.amount + self.churn.amount)

    @property
    def nrr(self) -> Decimal | None:
        """Net revenue retention: the MRR of the customers paying at the start, at the end (expansion and
        contraction in, churn out, new and reactivated customers left out) ÷ MRR at the start."""
        return ratio(self.mrr_start.amount + self.expansion.amount - self.contraction.amount - self.churn.amount,
                     self.mrr_start.amount)

    @property
    def grr(self) -> Decimal | None:
        """Gross revenue retention: as ``nrr`` without expansion (at most 1)."""
        return ratio(self.mrr_start.amount - self.contraction.amount - self.churn.amount, self.mrr_start.amount)

    @property
    def arpa(self) -> Money | None:
        """MRR ÷ paying customers, at the end."""
        if not self.customers_end:
            return None
        return Money(round_half_even(Decimal(self.mrr_end.amount) / self.customers_end), self.mrr_end.currency)


@dataclass(frozen=True)
class Cohort:
    """Customers who first paid in the month starting ``start``; per month since (0 = their first),
    ``nrr[m]`` = MRR then ÷ MRR at the end of month 0 (can exceed 1), ``grr[m]`` the same with each customer
    capped at its month-0 MRR (at most 1), ``customers[m]`` of them still paying."""

    start: datetime
    size: int
    mrr: Money
    nrr: tuple[Decimal | None, ...]
    grr: tuple[Decimal | None, ...]
    customers: tuple[int, ...]


@dataclass(frozen=True)
class Point:
    """A series value for ``[start, end)`` and the same figure one whole range earlier."""

    start: datetime
    end: datetime
    value: Any
    previous: Any


@dataclass(frozen=True)
class TopCustomer:
    customer: str
    owner_id: str | None
    mrr: Money
    mrr_native: Money


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    subscription: str
    customer: str
    owner_id: str | None
    effective_at: datetime
    mrr_before: Money
    mrr_after: Money
    status_before: str | None
    status_after: str
    cause: str
    source: str
    stripe_event_id: str | None


def ratio(num: int, den: int) -> Decimal | None:
    """num ÷ den to 6 places, None when den is 0 (undefined, never infinity)."""
    if den == 0:
        return None
    return (Decimal(num) / Decimal(den)).quantize(Decimal("0.000001"))


def round_half_even(value: Decimal) -> int:
    from decimal import ROUND_HALF_EVEN
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
