"""Proration math: exact fractions, one rounding, credits that mirror debits (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billingos.pricing import change_lines, project, prorate, proration_fraction

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 2, 1, tzinfo=UTC)


def test_half_way_through_a_month() -> None:
    at = START + (END - START) / 2
    assert proration_fraction(START, END, at) == Fraction(1, 2)
    lines = change_lines(1000, 3000, START, END, at)
    assert (lines.credit, lines.debit, lines.net) == (-500, 1500, 1000)


def test_stripes_example_upgrade_on_day_15_of_30() -> None:
    # Stripe's proration doc: 10 USD -> 20 USD half-way through the period nets +5 USD.
    start = datetime(2026, 4, 1, tzinfo=UTC)
    end = start + timedelta(days=30)
    lines = change_lines(1000, 2000, start, end, start + timedelta(days=15))
    assert (lines.credit, lines.debit, lines.net) == (-500, 1000, 500)


def test_two_changes_in_one_period_credit_the_full_price_fraction() -> None:
    # gumroad #6077: the second credit is the unused fraction of the full price, never of a proration.
    first = change_lines(1000, 3000, START, END, START + timedelta(days=10))
    second = change_lines(3000, 9000, START, END, START + timedelta(days=20))
    f2 = proration_fraction(START, END, START + timedelta(days=20))
    assert second.credit == -prorate(3000, f2)
    assert first.debit + second.credit >= 0


def test_rounding_is_half_away_from_zero() -> None:
    assert prorate(1, Fraction(1, 2)) == 1
    assert prorate(3, Fraction(1, 2)) == 2
    assert prorate(-1, Fraction(1, 2)) == -1
    with pytest.raises(ValueError):
        prorate(100, Fraction(3, 2))


def test_naive_or_empty_periods_are_refused() -> None:
    with pytest.raises(ValueError):
        proration_fraction(datetime(2026, 1, 1), END, END)
    with pytest.raises(ValueError):
        proration_fraction(END, START, END)


def test_projection() -> None:
    mid = START + (END - START) / 4
    assert project(100, START, END, mid) == 400
    assert project(100, START, END, START) == 100
    assert project(100, START, END, END + timedelta(days=3)) == 100


_amounts = st.integers(0, 10**9)
_secs = st.integers(1, 400 * 86400)


@given(_amounts, _amounts, _secs, st.floats(0, 1))
def test_credit_and_debit_mirror(old: int, new: int, length: int, share: float) -> None:
    start = int(START.timestamp())
    end = start + length
    at = start + int(length * share)
    lines = change_lines(old, new, start, end, at)
    same = change_lines(new, old, start, end, at)
    assert lines.credit == -same.debit and lines.debit == -same.credit
    assert -old <= lines.credit <= 0 <= lines.debit <= new
    f = proration_fraction(start, end, at)
    assert abs(Fraction(lines.debit) - new * f) <= Fraction(1, 2)


@given(_amounts, _secs, st.floats(0, 1))
def test_no_change_nets_zero(amount: int, length: int, share: float) -> None:
    start = int(START.timestamp())
    lines = change_lines(amount, amount, start, start + length, start + int(length * share))
    assert lines.net == 0
