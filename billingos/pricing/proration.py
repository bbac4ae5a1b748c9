"""Proration math with Stripe's semantics: time is counted in seconds, the fraction is exact, and a line is
rounded half away from zero once, so a credit and the matching debit have the same magnitude."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

__all__ = ["ProrationLines", "change_lines", "project", "prorate", "proration_fraction"]


def _ts(value: datetime | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("proration needs aware datetimes (tzinfo=UTC)")
        return int(value.timestamp())
    return int(value)


def proration_fraction(period_start: datetime | int, period_end: datetime | int,
                       at: datetime | int) -> Fraction:
    """The unused share of the period at ``at``: (end - at) / (end - start), clamped to [0, 1]."""
    start, end, now = _ts(period_start), _ts(period_end), _ts(at)
    if end <= start:
        raise ValueError("period_end must be after period_start")
    now = min(max(now, start), end)
    return Fraction(end - now, end - start)


def _round(x: Fraction) -> int:
    sign = -1 if x < 0 else 1
    a = abs(x)
    whole = a.numerator // a.denominator
    if (a - whole) * 2 >= 1:
        whole += 1
    return sign * whole


def prorate(amount: int, fraction: Fraction) -> int:
    """``amount`` × ``fraction``, rounded half away from zero to an integer number of minor units."""
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be between 0 and 1")
    return _round(Fraction(amount) * fraction)


@dataclass(frozen=True)
class ProrationLines:
    """A mid-period change: the credit for unused time on the old price (<= 0), and the debit for the
    remaining time on the new one (>= 0). ``net`` is what the next invoice changes by."""

    credit: int
    debit: int

    @property
    def net(self) -> int:
        return self.credit + self.debit


def change_lines(old_amount: int, new_amount: int, period_start: datetime | int, period_end: datetime | int,
                 at: datetime | int) -> ProrationLines:
    """Switching from a price costing ``old_amount`` per period to ``new_amount`` at ``at``.

    The credit is the unused fraction of the full old amount (never of a previous proration), so two changes
    in one period never over-charge."""
    f = proration_fraction(period_start, period_end, at)
    return ProrationLines(credit=-prorate(old_amount, f), debit=prorate(new_amount, f))


def project(so_far: int | Decimal, period_start: datetime | int, period_end: datetime | int,
            at: datetime | int) -> Fraction:
    """A linear projection of a quantity measured from ``period_start`` to ``at`` over the whole period.

    Returns the exact projected quantity (callers round or floor as their unit needs)."""
    start, end, now = _ts(period_start), _ts(period_end), _ts(at)
    if end <= start:
        raise ValueError("period_end must be after period_start")
    now = min(max(now, start), end)
    if now == start:
        return Fraction(so_far)
    return Fraction(so_far) * Fraction(end - start, now - start)
