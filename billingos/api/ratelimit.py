"""Per-key rate limits for the JSON API, with the ``limits`` package's limit notation and storage.

Counters live in Redis when one is configured (shared by every process) and in memory otherwise (per
process). When Redis cannot be reached the request is let through and a warning logged: billing reads must
not go down with the rate limiter (the limit protects capacity; it is not an entitlement).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["Decision", "RateLimiter"]

log = logging.getLogger("billingos.api")
NAMESPACE = "billingos-api"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int           # seconds until the window resets
    window: int          # the window's length in seconds

    def headers(self) -> dict[str, str]:
        out = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
               "RateLimit-Reset": str(self.reset), "RateLimit-Policy": f"{self.limit};w={self.window}"}
        if not self.allowed:
            out["Retry-After"] = str(max(1, self.reset))
        return out


class RateLimiter:
    """Fixed windows aligned to the clock (a minute window runs from :00 to :00), one counter per
    (key, scope, window) that expires with its window.

    A process claims counts from the shared counter a block at a time (``INCRBY block``) and hands them
    out locally, so most requests cost no round trip to Redis. A block is 1% of the limit (at most 100,
    at least 1: small limits are exact); with several processes a block held by one is not usable by
    another, which can only refuse a little early, never let more than the limit through."""

    def __init__(self, limits_by_scope: dict[str, str], storage_uri: str) -> None:
        from limits import parse_many
        from limits.storage import storage_from_string
        self._items = {scope: parse_many(text) for scope, text in limits_by_scope.items()}
        self.storage_uri = storage_uri
        self._storage: Any = storage_from_string(storage_uri)
        self._blocks: dict[str, tuple[int, int]] = {}     # counter key -> (next count, last count claimed)
        self._lock = threading.Lock()

    def hit(self, key_id: str, scope: str) -> Decision | None:
        """Count one request of ``key_id`` in ``scope``; the tightest window's state. None: storage is down."""
        now = time.time()
        decisions = []
        try:
            for item in self._items[scope]:
                window = item.get_expiry()
                start = int(now // window) * window
                count = self._count(f"{item.key_for(NAMESPACE, key_id, scope)}/{start}", window,
                                    max(1, min(100, item.amount // 100)))
                reset = max(1, math.ceil(start + window - now))
                decisions.append(Decision(count <= item.amount, item.amount, max(0, item.amount - count), reset,
                                          window))
        except Exception as e:   # Redis down or unreachable: fail open, loudly
            log.warning("billingos API rate limit storage %s failed (%s); request allowed", _safe(self.storage_uri),
                        type(e).__name__)
            return None
        refused = [d for d in decisions if not d.allowed]
        if refused:
            return max(refused, key=lambda d: d.reset)
        return min(decisions, key=lambda d: (d.remaining, -d.reset))

    def _count(self, counter: str, window: int, block: int) -> int:
        """This request's number in the window: from the local block, or from a newly claimed one."""
        with self._lock:
            nxt, last = self._blocks.get(counter, (1, 0))
            if nxt <= last:
                self._blocks[counter] = (nxt + 1, last)
                return nxt
        total = int(self._storage.incr(counter, window + 1, amount=block))
        with self._lock:
            if len(self._blocks) > 10_000:       # counters of past windows
                self._blocks.clear()
            self._blocks[counter] = (total - block + 2, total)
        return total - block + 1


def _safe(uri: str) -> str:
    """The storage URI without a password."""
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
