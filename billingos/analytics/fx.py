"""Currency conversion with the host's dated rate table (``billing.analytics.set_rate``)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import MissingRateError
from ..money import CURRENCY_EXPONENTS
from .models import BillingFxRate

__all__ = ["Rates"]


class Rates:
    """The rates into ``quote`` for ``currencies``, loaded once per report (a handful of rows)."""

    def __init__(self, session: Session, quote: str, currencies: Iterable[str]) -> None:
        self.quote = quote
        wanted = sorted(set(currencies) - {quote})
        self._table: dict[str, tuple[list[date], list[Decimal]]] = {c: ([], []) for c in wanted}
        if wanted:
            rows = session.execute(select(BillingFxRate.currency, BillingFxRate.valid_from, BillingFxRate.rate)
                                   .where(BillingFxRate.quote == quote, BillingFxRate.currency.in_(wanted))
                                   .order_by(BillingFxRate.currency, BillingFxRate.valid_from))
            for cur, day, rate in rows:
                self._table[cur][0].append(day)
                self._table[cur][1].append(Decimal(rate))

    def rate(self, currency: str, on: date) -> Decimal:
        if currency == self.quote:
            return Decimal(1)
        days, rates = self._table.get(currency, ([], []))
        i = bisect_right(days, on)
        if i == 0:
            raise MissingRateError(f"No {currency.upper()}->{self.quote.upper()} rate valid on {on.isoformat()}: "
                                   f"add one with billing.analytics.set_rate({currency!r}, rate, on=...).",
                                   currency=currency, on=on.isoformat())
        return rates[i - 1]

    def convert(self, amounts: Mapping[str, int], on: date) -> int:
        """The sum of per-currency minor units in the quote currency's minor units (half-even, once)."""
        total = Decimal(0)
        for cur, amount in amounts.items():
            if amount:
                scale = Decimal(10) ** (CURRENCY_EXPONENTS[self.quote] - CURRENCY_EXPONENTS.get(cur, 2))
                total += Decimal(amount) * self.rate(cur, on) * scale
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
