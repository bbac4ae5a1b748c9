"""Injected time. Every time-dependent path asks a Clock, so tests and the emulator can move it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FrozenClock", "SystemClock", "utc"]


def utc(ts: int | float | None) -> datetime | None:
    """A Stripe unix timestamp as an aware UTC datetime (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


@runtime_checkable
class Clock(Protocol):
    """What billingos asks the time of: ``SystemClock`` in production, ``FrozenClock`` in tests and demos."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FrozenClock:
    """A clock that only moves when told to: for tests, demos and the emulator."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime (e.g. datetime(..., tzinfo=UTC)).")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def rewind(self, when: datetime) -> datetime:
        """Move back to ``when``: only for building a history before the present on a system with nothing
        newer in it (``example_app.seed``, which then plays the clock forward to where it was)."""
        if when.tzinfo is None:
            raise ValueError("FrozenClock.rewind needs a timezone-aware datetime.")
        with self._lock:
            self._now = when.astimezone(UTC)
        return self.set(self._now)      # through set(): a subclass that persists its time sees the move

    def advance(self, delta: timedelta | None = None, **kw: float) -> datetime:
        step = (delta or timedelta()) + timedelta(**kw)
        if step < timedelta():
            raise ValueError("A clock cannot move backwards.")
        with self._lock:
            self._now = self._now + step
            return self._now

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise ValueError("FrozenClock.set needs a timezone-aware datetime.")
        with self._lock:
            if when < self._now:
                raise ValueError("A clock cannot move backwards.")
            self._now = when.astimezone(UTC)
            return self._now

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()})"
