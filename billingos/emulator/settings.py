"""The emulator's settings (how its simulated Stripe account behaves) and its latency knob.

    Emulator(settings=EmulatorSettings(retry_schedule_days=(1, 2), after_final_failure="unpaid"),
             latency=0.1)                       # 100 ms per call, spent outside the emulator's lock
    em.settings = dataclasses.replace(em.settings, upcoming_days=7)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AFTER_FINAL_FAILURE", "API_VERSION", "DEFAULT_HARD_DECLINES", "EmulatorSettings", "Latency", "latency_for"]

API_VERSION = "2026-10-28.endive"          # the Stripe API version the emulator answers as (the SDK's)
AFTER_FINAL_FAILURE = ("cancel", "unpaid", "past_due")
DEFAULT_HARD_DECLINES = frozenset({
    "lost_card", "stolen_card", "pickup_card", "fraudulent", "incorrect_number", "invalid_account",
    "restricted_card", "card_not_supported", "expired_card",
})


@dataclass(frozen=True)
class EmulatorSettings:
    """Billing settings of the simulated account (Stripe's Dashboard settings for subscriptions).

    - ``retry_schedule_days``: automatic payment retries, in days after the first failure (Smart Retries
      off, a custom schedule), each day later than the one before; ``()`` turns Stripe's retries off (the
      host's own dunning retries with ``POST /v1/invoices/{id}/pay``).
    - ``after_final_failure``: what a subscription becomes when its last retry fails: ``"cancel"``,
      ``"unpaid"`` or ``"past_due"`` (left past-due).
    - ``upcoming_days``: days before a renewal that ``invoice.upcoming`` is sent.
    - ``hard_decline_codes``: decline codes that are not retried until the payment method changes.
    """

    retry_schedule_days: tuple[int, ...] = (3, 5, 10)
    after_final_failure: Literal["cancel", "unpaid", "past_due"] = "cancel"
    upcoming_days: int = 3
    hard_decline_codes: frozenset[str] = field(default=DEFAULT_HARD_DECLINES)

    def __post_init__(self) -> None:
        days = tuple(self.retry_schedule_days)
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in days):
            raise ValueError(f"retry_schedule_days must be whole days >= 1, got {self.retry_schedule_days!r}")
        if list(days) != sorted(set(days)):
            raise ValueError(f"retry_schedule_days must be increasing, got {self.retry_schedule_days!r}")
        if self.after_final_failure not in AFTER_FINAL_FAILURE:
            raise ValueError(f"after_final_failure must be one of {', '.join(AFTER_FINAL_FAILURE)}, "
                             f"not {self.after_final_failure!r}")
        if isinstance(self.upcoming_days, bool) or not isinstance(self.upcoming_days, int) or not (
                0 <= self.upcoming_days <= 45):
            raise ValueError(f"upcoming_days must be an integer from 0 to 45, got {self.upcoming_days!r}")
        if isinstance(self.hard_decline_codes, str):
            raise ValueError("hard_decline_codes must be a collection of decline codes, not one string")
        object.__setattr__(self, "retry_schedule_days", days)
        object.__setattr__(self, "hard_decline_codes", frozenset(self.hard_decline_codes))


#: Seconds a call waits before it is answered: one number for every call, a mapping from
#: ``"METHOD /v1/path/pattern"`` (``*`` matches one path segment, ``**`` the rest; the method may be
#: ``*``) to seconds, the first match winning, or a callable ``(method, path) -> seconds``.
Latency = float | Mapping[str, float] | Callable[[str, str], float] | None


def latency_for(latency: Latency, method: str, path: str) -> float:
    """The delay of one call under ``latency`` (0 when nothing matches)."""
    if latency is None:
        return 0.0
    if callable(latency):
        seconds = latency(method, path)
    elif isinstance(latency, Mapping):
        seconds = next((float(v) for k, v in latency.items() if _pattern(k).fullmatch(f"{method} {path}")), 0.0)
    else:
        seconds = latency
    seconds = float(seconds)
    if not 0 <= seconds < 3600:     # NaN fails both comparisons
        raise ValueError(f"latency must be between 0 and 3600 seconds, got {seconds!r} for {method} {path}")
    return seconds


def _pattern(key: str) -> re.Pattern[str]:
    method, _, path = key.strip().partition(" ")
    if not path:                     # "/v1/customers" alone: any method
        method, path = "*", method
    rx = re.escape(path).replace(r"\*\*", ".*").replace(r"\*", "[^/]+")
    return re.compile(("[A-Z]+" if method == "*" else re.escape(method.upper())) + " " + rx)


def check_latency(latency: Latency) -> Latency:
    """Refuse a knob that cannot work before the first call finds out."""
    if latency is None or callable(latency):
        return latency
    if isinstance(latency, Mapping):
        for key, value in latency.items():
            _pattern(str(key))
            latency_for(float(value), "GET", "/")
        return latency
    if isinstance(latency, bool) or not isinstance(latency, int | float):
        raise ValueError(f"latency must be seconds, a mapping of patterns to seconds or a callable, "
                         f"got {latency!r}")
    latency_for(latency, "GET", "/")
    return latency
