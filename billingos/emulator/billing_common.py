"""Shared helpers of the emulator's billing engine: settings, internal state, money and calendar math.

Settings live in ``em.extensions`` so tests and the billingos test kit can change them:

- ``retry_schedule_days``: automatic payment retries, in days after the first failure (default [3, 5, 10]).
- ``after_final_failure``: ``"cancel"`` (default), ``"unpaid"`` or ``"past_due"``.
- ``upcoming_days``: days before a renewal that ``invoice.upcoming`` is sent (default 3).
- ``hard_decline_codes``: decline codes that are never retried until the payment method changes.
- ``metered_quantity``: callable ``(em, subscription_item, period_start, period_end) -> int`` that rates
  metered items at renewal (default: 0 units).
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .errors import invalid
from .params import Params

if TYPE_CHECKING:
    from .app import Emulator

DAY = 86400
HOUR = 3600
INCOMPLETE_EXPIRY_SECONDS = 23 * HOUR
TRIAL_WILL_END_SECONDS = 3 * DAY
DEFAULT_RETRY_DAYS = [3, 5, 10]
DEFAULT_HARD_DECLINES = [
    "lost_card",
    "stolen_card",
    "pickup_card",
    "fraudulent",
    "incorrect_number",
    "invalid_account",
    "restricted_card",
    "card_not_supported",
    "expired_card",
]
CURRENCIES = {
    "usd",
    "eur",
    "gbp",
    "cad",
    "aud",
    "jpy",
    "chf",
    "sek",
    "nok",
    "dkk",
    "nzd",
    "sgd",
    "hkd",
    "inr",
    "brl",
    "mxn",
    "pln",
    "czk",
    "huf",
    "ron",
    "bgn",
    "ils",
    "zar",
    "krw",
    "twd",
    "thb",
    "myr",
    "php",
    "idr",
    "aed",
    "sar",
    "try",
}


# --- settings ------------------------------------------------------------------------------------
def retry_days(em: Emulator) -> list[int]:
    return [int(d) for d in em.extensions.get("retry_schedule_days", DEFAULT_RETRY_DAYS)]


def after_final_failure(em: Emulator) -> str:
    return str(em.extensions.get("after_final_failure", "cancel"))


def upcoming_days(em: Emulator) -> int:
    return int(em.extensions.get("upcoming_days", 3))


def hard_declines(em: Emulator) -> set[str]:
    return set(em.extensions.get("hard_decline_codes", DEFAULT_HARD_DECLINES))


def metered_quantity(em: Emulator, item: dict[str, Any], start: int, end: int) -> int:
    hook = em.extensions.get("metered_quantity")
    return int(hook(em, item, start, end)) if callable(hook) else 0


# --- internal state (kept out of the API objects, persisted with the emulator) -------------------
def state(em: Emulator, kind: str, oid: str) -> dict[str, Any]:
    """Per-object bookkeeping that Stripe keeps server side (retry counters, events already sent)."""
    root = em.extensions.setdefault("billing_state", {})
    return root.setdefault(kind, {}).setdefault(oid, {})


def peek_state(em: Emulator, kind: str, oid: str) -> dict[str, Any]:
    """Read-only view of ``state`` (creates nothing)."""
    return em.extensions.get("billing_state", {}).get(kind, {}).get(oid, {})


# --- money ---------------------------------------------------------------------------------------
def round_half_up(x: Fraction | int) -> int:
    """Round half away from zero, so a credit and the matching debit have the same magnitude."""
    f = Fraction(x)
    sign = -1 if f < 0 else 1
    return sign * math.floor(abs(f) + Fraction(1, 2))


def decimal_param(
    p: Params,
    key: str,
    *,
    required: bool = False,
    low: float = 0,
    high: float = 100,
    low_inclusive: bool = False,
) -> float | None:
    """A percentage like ``percent_off`` or ``percentage``: a finite decimal in (low, high]."""
    raw = p.required(key) if required else p.get(key)
    if raw is None:
        return None
    try:
        d = Decimal(str(raw))
        if not d.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise invalid(f"Invalid decimal: {raw}", p._name(key)) from None
    if d < low or (d == low and not low_inclusive) or d > high:
        bound = "greater than or equal to" if low_inclusive else "greater than"
        raise invalid(
            f"Invalid {p._name(key)}: must be {bound} {low} and less than or equal to {high}", p._name(key)
        )
    return float(d)


def currency_param(p: Params, key: str, *, required: bool = False) -> str | None:
    cur = p.str(key, required=required)
    if cur is None:
        return None
    if cur.lower() not in CURRENCIES:
        raise invalid(
            f"Invalid currency: {cur}. Stripe currencies are three-letter ISO codes in lowercase.",
            p._name(key),
        )
    return cur.lower()


def timestamp_param(p: Params, key: str, *, allow_now: bool = False, nullable: bool = False) -> Any:
    """A unix timestamp, ``"now"`` when allowed, ``None`` when ``""`` is allowed. ``_ABSENT`` if unset."""
    if not p.has(key):
        return ABSENT
    raw = p.get(key)
    if allow_now and raw == "now":
        return "now"
    if nullable and raw == "":
        return None
    return p.int(key, min=0, max=2**40)


ABSENT = object()


# --- calendar ------------------------------------------------------------------------------------
def add_interval(ts: int, interval: str, count: int) -> int:
    """``ts`` plus ``count`` intervals; month arithmetic clamps to the month's last day, as Stripe does."""
    if interval == "day":
        return ts + count * DAY
    if interval == "week":
        return ts + count * 7 * DAY
    months = count * (12 if interval == "year" else 1)
    d = datetime.fromtimestamp(ts, UTC)
    total = d.year * 12 + (d.month - 1) + months
    year, month = divmod(total, 12)
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return int(d.replace(year=year, month=month + 1, day=day).timestamp())


def next_boundary(anchor: int, interval: str, count: int, t: int) -> int:
    """The first billing-cycle boundary strictly after ``t`` for a cycle anchored at ``anchor``.

    An anchor in the future (a trial end, a later ``billing_cycle_anchor``) is itself the next boundary."""
    if anchor > t:
        return anchor
    k = 1
    while add_interval(anchor, interval, count * k) <= t:
        k += 1
    return add_interval(anchor, interval, count * k)


def fmt_date(ts: int) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    return f"{d.day} {d.strftime('%b %Y')}"
