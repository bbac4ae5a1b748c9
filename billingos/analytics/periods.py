"""Dates in, aware UTC datetimes and interval boundaries out (validated: typed errors naming the parameter)."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import InvalidInputError
from ..validation import echo

__all__ = ["INTERVALS", "MAX_INTERVALS", "boundaries", "moment", "shift"]

INTERVALS = ("day", "week", "month")
MAX_INTERVALS = 1000              # points in one series (about 2.7 years of days)
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def moment(value: Any, param: str) -> datetime:
    """A ``date`` (midnight UTC) or an aware ``datetime``, between 2000 and 2200, as aware UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInputError(f"{param} must be a date or a timezone-aware datetime, got a naive datetime "
                                    f"{echo(value.isoformat())}.", param=param)
        out = value.astimezone(UTC)
    elif isinstance(value, date):
        out = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raise InvalidInputError(f"{param} must be a date or a timezone-aware datetime, got {echo(value)}.",
                                param=param)
    if not _EARLIEST <= out <= _LATEST:
        raise InvalidInputError(f"{param} must be between 2000 and 2200, got {out.date().isoformat()}.", param=param)
    return out


def shift(at: datetime, interval: str, n: int) -> datetime:
    """``at`` moved by ``n`` intervals; months keep the day of month (clamped to the month's length)."""
    if interval == "day":
        return at + timedelta(days=n)
    if interval == "week":
        return at + timedelta(weeks=n)
    months = at.year * 12 + at.month - 1 + n
    year, month = divmod(months, 12)
    day = min(at.day, monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def boundaries(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """``start``, then every whole interval after it, then ``end`` (the last interval may be shorter)."""
    if end <= start:
        raise InvalidInputError(f"end must be after start, got start={start.date().isoformat()} and "
                                f"end={end.date().isoformat()}.", param="end")
    out = [start]
    n = 1
    while True:
        nxt = shift(start, interval, n)
        if nxt >= end:
            break
        out.append(nxt)
        n += 1
        if n > MAX_INTERVALS:
            raise InvalidInputError(f"start to end holds more than {MAX_INTERVALS:,} {interval}s; use a longer "
                                    "interval or a shorter range.", param="end")
    out.append(end)
    return out
