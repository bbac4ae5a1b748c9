"""Stripe's test cards (``pm_card_visa``, ``tok_chargeDeclined``, raw test numbers) and how each behaves
in a charge. How a card behaves is derived from its fingerprint (``charge_outcome``), so no private key
ever sits on a stored object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import StripeError


@dataclass(frozen=True)
class TestCard:
    number: str
    brand: str
    funding: str = "credit"
    decline: str | None = None       # decline_code when a charge fails
    at_attach: bool = True           # the decline also refuses attaching (Stripe verifies the card)


_OK = {
    "visa": TestCard("4242424242424242", "visa"),
    "visa_debit": TestCard("4000056655665556", "visa", "debit"),
    "mastercard": TestCard("5555555555554444", "mastercard"),
    "mastercard_debit": TestCard("5200828282828210", "mastercard", "debit"),
    "mastercard_prepaid": TestCard("5105105105105100", "mastercard", "prepaid"),
    "amex": TestCard("378282246310005", "amex"),
    "discover": TestCard("6011111111111117", "discover"),
    "diners": TestCard("3056930009020004", "diners"),
    "jcb": TestCard("3566002020360505", "jcb"),
    "unionpay": TestCard("6200000000000005", "unionpay"),
}
_DECLINES = {   # suffix -> (number, decline_code); each also exists with a ``visa_`` prefix
    "chargeDeclined": ("4000000000000002", "generic_decline"),
    "chargeDeclinedInsufficientFunds": ("4000000000009995", "insufficient_funds"),
    "chargeDeclinedLostCard": ("4000000000009987", "lost_card"),
    "chargeDeclinedStolenCard": ("4000000000009979", "stolen_card"),
    "chargeDeclinedExpiredCard": ("4000000000000069", "expired_card"),
    "chargeDeclinedIncorrectCvc": ("4000000000000127", "incorrect_cvc"),
    "chargeDeclinedProcessingError": ("4000000000000119", "processing_error"),
    "chargeDeclinedVelocityLimitExceeded": ("4000000000006975", "card_velocity_exceeded"),
}
TEST_CARDS: dict[str, TestCard] = {
    **_OK,
    **{k: TestCard(n, "visa", decline=d) for k, (n, d) in _DECLINES.items()},
    **{f"visa_{k}": TestCard(n, "visa", decline=d) for k, (n, d) in _DECLINES.items()},
    # attaches fine; every later charge is declined
    "chargeCustomerFail": TestCard("4000000000000341", "visa", decline="generic_decline", at_attach=False),
}
_BY_NUMBER = {c.number: c for c in TEST_CARDS.values()}

# decline_code -> (error code, message), Stripe's wording
DECLINE_ERRORS = {
    "generic_decline": ("card_declined", "Your card was declined."),
    "insufficient_funds": ("card_declined", "Your card has insufficient funds."),
    "lost_card": ("card_declined", "Your card was declined."),
    "stolen_card": ("card_declined", "Your card was declined."),
    "card_velocity_exceeded": ("card_declined", "Your card was declined."),
    "expired_card": ("expired_card", "Your card has expired."),
    "incorrect_cvc": ("incorrect_cvc", "Your card's security code is incorrect."),
    "processing_error": ("processing_error",
                         "An error occurred while processing your card. Try again in a little bit."),
}


def fingerprint(number: str) -> str:
    return hashlib.sha256(f"billingos-card:{number}".encode()).hexdigest()[:16]


_BY_FINGERPRINT = {fingerprint(c.number): c for c in TEST_CARDS.values()}


def card_behaviour(pm: dict[str, Any]) -> TestCard | None:
    """The test card behind a stored payment method (None for a card the emulator does not know)."""
    return _BY_FINGERPRINT.get(((pm.get("card") or {}).get("fingerprint")) or "")


def charge_outcome(pm: dict[str, Any], at: int | None = None) -> tuple[bool, str | None]:
    """(ok, decline_code) for charging ``pm`` (at unix time ``at``): later code (invoices, payment intents)
    asks this. A card charged after its expiry month is declined ``expired_card``, as issuers do."""
    card = card_behaviour(pm)
    if card is not None and card.decline is not None:
        return False, card.decline
    info = pm.get("card") or {}
    month, year = info.get("exp_month"), info.get("exp_year")
    if at is not None and isinstance(month, int) and isinstance(year, int):
        first_invalid = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        if at >= first_invalid.timestamp():
            return False, "expired_card"
    return True, None


def decline_error(decline_code: str) -> StripeError:
    """The 402 card_error Stripe answers for ``decline_code``."""
    code, message = DECLINE_ERRORS.get(decline_code, DECLINE_ERRORS["generic_decline"])
    return StripeError(message, status=402, type="card_error", code=code, decline_code=decline_code)


def card_object(card: TestCard, exp_month: int = 12, exp_year: int = 2034) -> dict[str, Any]:
    return {
        "brand": card.brand, "checks": {"address_line1_check": None, "address_postal_code_check": None,
                                        "cvc_check": "unchecked"},
        "country": "US", "display_brand": card.brand.replace("amex", "american_express"),
        "exp_month": exp_month, "exp_year": exp_year, "fingerprint": fingerprint(card.number),
        "funding": card.funding, "generated_from": None, "last4": card.number[-4:],
        "networks": {"available": [card.brand], "preferred": None},
        "regulated_status": "unregulated", "three_d_secure_usage": {"supported": True}, "wallet": None,
    }


def test_card(token: str) -> TestCard | None:
    """The test card behind ``pm_card_visa`` or ``tok_visa``."""
    for prefix in ("pm_card_", "tok_"):
        if token.startswith(prefix):
            return TEST_CARDS.get(token[len(prefix):])
    return None


def card_from_number(number: str) -> TestCard:
    if number in _BY_NUMBER:
        return _BY_NUMBER[number]
    if not number.isdigit() or not _luhn(number):
        raise StripeError("Your card number is incorrect.", status=402, type="card_error",
                          code="incorrect_number", param="card[number]")
    raise StripeError("Your card was declined. Your request was in test mode, but used a non test (live) "
                      "card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
                      status=402, type="card_error", code="card_declined", decline_code="test_mode_live_card")


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0
