"""Money and dates for people: "$12.00", "17 Jan 2027". Templates get these as ``fmt``."""

from __future__ import annotations

from datetime import UTC, datetime

from ..money import CURRENCY_EXPONENTS, Money

__all__ = ["Formatter"]

_STATUS_WORDS = {
    "trialing": "Trial", "active": "Active", "past_due": "Past due", "unpaid": "Unpaid", "canceled": "Canceled",
    "incomplete": "Incomplete", "incomplete_expired": "Expired", "paused": "Paused",
    "draft": "Draft", "open": "Due", "paid": "Paid", "void": "Void", "uncollectible": "Uncollectible",
}


class Formatter:
    """Formats for one request (a host could subclass it for another locale)."""

    def money(self, amount: int | None, currency: str | None) -> str:
        if amount is None or not currency or currency.lower() not in CURRENCY_EXPONENTS:
            return "—"
        return Money(int(amount), currency.lower()).format()

    def date(self, value: datetime | int | None) -> str:
        """``17 Jan 2027`` (UTC); an int is a Unix timestamp."""
        if value is None:
            return "—"
        if isinstance(value, int):
            value = datetime.fromtimestamp(value, UTC)
        return f"{value.day} {value:%b %Y}"

    def status(self, value: str | None) -> str:
        return _STATUS_WORDS.get(value or "", (value or "—").replace("_", " ").capitalize())

    def card(self, brand: str | None, last4: str | None) -> str:
        """``Visa ending in 4242``."""
        name = {"amex": "American Express", "mastercard": "Mastercard", "visa": "Visa", "discover": "Discover",
                "jcb": "JCB", "diners": "Diners Club", "unionpay": "UnionPay"}.get(brand or "", "Card")
        return f"{name} ending in {last4}" if last4 else name

    def percent(self, used: int, limit: int | None) -> int:
        """0-100 for a progress bar (100 when over the limit; 0 without a limit)."""
        if not limit or limit <= 0:
            return 0
        return max(0, min(100, round(used * 100 / limit)))
