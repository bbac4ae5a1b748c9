from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billingos import InvalidInputError, Money
from billingos.money import parse_decimal, validate_amount, validate_currency

amounts = st.integers(min_value=-(10**12), max_value=10**12)


@given(amounts, amounts, amounts)
def test_addition_is_exact_and_associative(a: int, b: int, c: int) -> None:
    x, y, z = Money(a, "usd"), Money(b, "usd"), Money(c, "usd")
    assert (x + y) + z == x + (y + z) == Money(a + b + c, "usd")
    assert (x - y) + y == x
    assert (x.__neg__()).__neg__() == x


@given(amounts)
def test_decimal_is_the_exact_major_amount(a: int) -> None:
    assert Money(a, "usd").decimal * 100 == a
    assert Money(a, "jpy").decimal == a
    assert Money(a, "kwd").decimal * 1000 == a


def test_format() -> None:
    assert Money(1250, "usd").format() == "$12.50"
    assert Money(-99, "eur").format() == "-€0.99"
    assert Money(500, "jpy").format() == "¥500"
    assert Money(123456, "sek").format() == "1,234.56 SEK"
    assert str(Money(1234, "kwd")) == "1.234 KWD"


@pytest.mark.parametrize("bad", [1.5, float("nan"), float("inf"), True, "10", None, 10**16, Decimal("1")])
def test_amounts_must_be_integers_in_range(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        validate_amount(bad)


def test_negative_amount_only_when_allowed() -> None:
    with pytest.raises(InvalidInputError, match="negative"):
        validate_amount(-1)
    assert validate_amount(-1, allow_negative=True) == -1


@pytest.mark.parametrize("bad", ["", "US", "usdd", "xyz", None, 840])
def test_unknown_currency(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="currency"):
        validate_currency(bad)
    with pytest.raises(InvalidInputError):
        Money(1, bad)  # type: ignore[arg-type]


def test_currency_is_normalised() -> None:
    assert Money(1, "USD").currency == "usd"


def test_cross_currency_arithmetic_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="Cannot combine"):
        Money(1, "usd") + Money(1, "eur")


@pytest.mark.parametrize("bad", [0.1, "abc", "NaN", "Infinity", "-1", True])
def test_parse_decimal_refuses_floats_and_garbage(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        parse_decimal(bad)


def test_parse_decimal_keeps_sub_cent_precision() -> None:
    assert parse_decimal("0.0125") == Decimal("0.0125")
    assert parse_decimal(Decimal("12.5")) == Decimal("12.5")
