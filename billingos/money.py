"""Money: integer minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InvalidInputError

__all__ = ["CURRENCY_EXPONENTS", "Money", "parse_decimal", "validate_amount", "validate_currency"]

# Minor-unit exponent per currency; Stripe's zero-decimal and three-decimal lists.
_ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                 "xaf", "xof", "xpf"}
_THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
_TWO_DECIMAL = {
    "usd", "eur", "gbp", "aud", "cad", "chf", "cny", "czk", "dkk", "hkd", "huf", "ils", "inr", "mxn", "myr",
    "nok", "nzd", "php", "pln", "ron", "sek", "sgd", "thb", "try", "twd", "zar", "brl", "aed", "sar", "idr",
    "egp", "ngn", "pkr", "bgn", "cop", "pen", "ars", "kes", "mad", "qar", "uah", "isk", "lkr", "bdt", "vnd",
}
CURRENCY_EXPONENTS: dict[str, int] = {
    **{c: 2 for c in _TWO_DECIMAL}, **{c: 0 for c in _ZERO_DECIMAL}, **{c: 3 for c in _THREE_DECIMAL}
}
# Stripe's own ceiling for an amount is 99,999,999 minor units per charge; subscriptions with
# quantities may exceed that, so the library bound is far higher but still finite.
MAX_AMOUNT = 10**15


def validate_currency(value: Any, *, param: str = "currency") -> str:
    """Return the lower-case ISO code, or raise InvalidInputError for anything Stripe would not take."""
    if not isinstance(value, str) or value.lower() not in CURRENCY_EXPONENTS:
        raise InvalidInputError(
            f"Unknown currency {value!r}: pass a three-letter ISO 4217 code such as 'usd'.", param=param
        )
    return value.lower()


def validate_amount(value: Any, *, param: str = "amount", allow_negative: bool = False) -> int:
    """An integer amount in minor units. Floats, NaN, bools and absurd sizes are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(
            f"{param} must be an integer number of minor units (cents), got {value!r}.", param=param
        )
    if value < 0 and not allow_negative:
        raise InvalidInputError(f"{param} must not be negative, got {value}.", param=param)
    if abs(value) > MAX_AMOUNT:
        raise InvalidInputError(f"{param} {value} is larger than the supported {MAX_AMOUNT}.", param=param)
    return value


def parse_decimal(value: Any, *, param: str = "unit_amount_decimal") -> Decimal:
    """A finite, non-negative Decimal for sub-cent unit prices. Floats are refused: they are not exact."""
    if isinstance(value, float | bool):
        raise InvalidInputError(f"{param} must be a Decimal or a string, not {type(value).__name__}.", param=param)
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInputError(f"{param} {value!r} is not a decimal number.", param=param) from None
    if not d.is_finite() or d < 0 or d > MAX_AMOUNT:
        raise InvalidInputError(f"{param} {value!r} must be a finite amount between 0 and {MAX_AMOUNT}.",
                                param=param)
    return d


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of minor units in one currency. Arithmetic across currencies is an error."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        validate_amount(self.amount, allow_negative=True)
        object.__setattr__(self, "currency", validate_currency(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise InvalidInputError(f"Cannot combine {self.currency} with {getattr(other, 'currency', other)!r}.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exactly (e.g. Decimal('12.50'))."""
        return Decimal(self.amount).scaleb(-self.exponent)

    def format(self) -> str:
        """'$12.50'-style text for templates; the symbol is only used for a few common currencies."""
        symbol = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}.get(self.currency)
        q = f"{abs(self.decimal):,.{self.exponent}f}"
        sign = "-" if self.amount < 0 else ""
        return f"{sign}{symbol}{q}" if symbol else f"{sign}{q} {self.currency.upper()}"

    def __str__(self) -> str:
        return self.format()

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)
