"""Shared helpers of the emulator's billing engine: money and calendar math, common parameters, and which
objects a clock moves. Settings are ``em.settings`` (``settings.py``); server-side state ``em.state``."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .errors import invalid
from .params import Params

if TYPE_CHECKING:
    from .app import Emulator

DAY = 86400
HOUR = 3600
INCOMPLETE_EXPIRY_SECONDS = 23 * HOUR
TRIAL_WILL_END_SECONDS = 3 * DAY
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


# --- money ---------------------------------------------------------------------------------------
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


def in_clock_scope(em: Emulator, obj: dict[str, Any], clock_id: str | None) -> bool:
    """Whether ``obj`` (anything with a ``customer``) moves with test clock ``clock_id`` (None: the
    emulator's own clock)."""
    cust = em.store.objects.get(obj.get("customer") or "")
    return (cust or {}).get("test_clock") == clock_id
