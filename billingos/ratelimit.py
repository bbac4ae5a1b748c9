"""Rate limits with the ``limits`` package's limit notation and storage: the JSON API's per-key limits
(``billing.api``) and the request limits of the pages' POSTs and the webhook route (``billing.rate_limits``).

Counters live in Redis when one is configured (shared by every process) and in memory otherwise (per
process). When Redis cannot be reached, ``rate_limit_on_storage_error`` decides: ``"memory"`` counts in this
process's memory with the same limits until Redis answers again (tried every few seconds), ``"closed"``
refuses with a 503 and Retry-After, ``"open"`` lets every request through. Each outage is logged once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import validation
from .errors import RateLimitedError, RateLimitUnavailableError

if TYPE_CHECKING:
    from .config import BillingConfig

__all__ = ["ON_STORAGE_ERROR", "REQUEST_SCOPES", "Decision", "RateLimiter", "RequestLimits", "storage_uri"]

log = logging.getLogger("billingos.ratelimit")
NAMESPACE = "billingos-api"
#: What a limiter does while its storage cannot be reached.
ON_STORAGE_ERROR = ("memory", "closed", "open")
#: ``billing.rate_limits``'s scopes and the config option that sets each.
REQUEST_SCOPES = {"portal": "portal_rate_limit", "admin": "admin_rate_limit", "webhook": "webhook_rate_limit"}
RETRY_STORAGE_EVERY = 5.0    # seconds between attempts to reach a storage that failed
STORAGE_TIMEOUT = 1.0        # seconds a Redis command or connection may take before the storage counts as down


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


def storage_uri(config: BillingConfig) -> str:
    """Where the counters live: ``api_rate_limit_storage``, else ``redis_url``, else this process's memory."""
    return config.api_rate_limit_storage or config.redis_url or "memory://"


class RateLimiter:
    """Fixed windows aligned to the clock (a minute window runs from :00 to :00), one counter per
    (key, scope, window) that expires with its window.

    A process claims counts from the shared counter a block at a time (``INCRBY block``) and hands them
    out locally, so most requests cost no round trip to Redis. A block is 1% of the limit (at most 100,
    at least 1: small limits are exact); with several processes a block held by one is not usable by
    another, which can only refuse a little early, never let more than the limit through.

    ``on_storage_error`` (one of ``ON_STORAGE_ERROR``) says what ``hit`` does while the storage is down;
    the storage is tried again every ``retry_storage_every`` seconds."""

    def __init__(self, limits_by_scope: dict[str, str], storage_uri: str, *, on_storage_error: str = "memory",
                 retry_storage_every: float = RETRY_STORAGE_EVERY) -> None:
        from limits import parse_many
        from limits.storage import MemoryStorage, storage_from_string
        if on_storage_error not in ON_STORAGE_ERROR:
            raise ValueError(f"on_storage_error must be one of {', '.join(ON_STORAGE_ERROR)}")
        self._items = {scope: parse_many(text) for scope, text in limits_by_scope.items()}
        self.storage_uri = storage_uri
        self.on_storage_error = on_storage_error
        self._retry_every = retry_storage_every
        # A Redis that hangs (rather than refusing) must not hang requests: a short timeout, then the policy.
        timeouts = {"socket_timeout": STORAGE_TIMEOUT, "socket_connect_timeout": STORAGE_TIMEOUT} \
            if storage_uri.startswith(("redis://", "rediss://")) else {}
        self._storage: Any = storage_from_string(storage_uri, **timeouts)
        self._local: Any = MemoryStorage()          # this process's counters while the storage is down
        self._blocks: dict[str, tuple[int, int]] = {}     # counter key -> (next count, last count claimed)
        self._lock = threading.Lock()
        self._down_until = 0.0       # time.monotonic() before which the storage is not tried again
        self._outage = False

    @property
    def degraded(self) -> bool:
        """True while the storage is down (counting by ``on_storage_error``)."""
        return self._outage

    def hit(self, key_id: str, scope: str) -> Decision | None:
        """Count one request of ``key_id`` in ``scope``; the tightest window's state. None: the storage is
        down and ``on_storage_error`` is "open". RateLimitUnavailableError: down and "closed"."""
        now, items = time.time(), self._items[scope]
        if time.monotonic() >= self._down_until:
            try:
                decision = self._decide(self._storage, key_id, scope, items, now, shared=True)
            except Exception as e:      # Redis down or unreachable
                self._failed(e)
            else:
                if self._outage:
                    self._outage = False
                    log.warning("billingos rate limit storage %s is back; counting there again",
                                _safe(self.storage_uri))
                return decision
        if self.on_storage_error == "open":
            return None
        if self.on_storage_error == "closed":
            retry = max(1, math.ceil(self._down_until - time.monotonic()))
            raise RateLimitUnavailableError(f"The rate limiter cannot count requests right now; retry in {retry} s.",
                                            retry_after=retry)
        return self._decide(self._local, key_id, scope, items, now, shared=False)

    def _failed(self, error: Exception) -> None:
        self._down_until = time.monotonic() + self._retry_every
        if not self._outage:       # once per outage, not once per request
            self._outage = True
            what = {"memory": "counting in this process's memory", "closed": "refusing requests (503)",
                    "open": "letting requests through"}[self.on_storage_error]
            log.warning("billingos rate limit storage %s failed (%s); %s until it answers again",
                        _safe(self.storage_uri), type(error).__name__, what)

    def _decide(self, storage: Any, key_id: str, scope: str, items: list[Any], now: float, *,
                shared: bool) -> Decision:
        decisions = []
        for item in items:
            window = item.get_expiry()
            start = int(now // window) * window
            counter = f"{item.key_for(NAMESPACE, key_id, scope)}/{start}"
            block = max(1, min(100, item.amount // 100)) if shared else 1
            count = self._count(storage, counter if shared else f"local:{counter}", window, block)
            reset = max(1, math.ceil(start + window - now))
            decisions.append(Decision(count <= item.amount, item.amount, max(0, item.amount - count), reset, window))
        refused = [d for d in decisions if not d.allowed]
        if refused:
            return max(refused, key=lambda d: d.reset)
        return min(decisions, key=lambda d: (d.remaining, -d.reset))

    def _count(self, storage: Any, counter: str, window: int, block: int) -> int:
        """This request's number in the window: from the local block, or from a newly claimed one."""
        with self._lock:
            nxt, last = self._blocks.get(counter, (1, 0))
            if nxt <= last:
                self._blocks[counter] = (nxt + 1, last)
                return nxt
        total = int(storage.incr(counter, window + 1, amount=block))
        with self._lock:
            if len(self._blocks) > 10_000:       # counters of past windows
                self._blocks.clear()
            self._blocks[counter] = (total - block + 2, total)
        return total - block + 1


class RequestLimits:
    """``billing.rate_limits``: the limits of the portal's POSTs (per owner), the admin pages' POSTs (per
    admin) and the webhook route (per client address), from ``portal_rate_limit``, ``admin_rate_limit`` and
    ``webhook_rate_limit`` (None turns one off). The pages and both adapters' webhook routes call ``check``."""

    def __init__(self, config: BillingConfig) -> None:
        self._config = config
        self._scopes = {scope: getattr(config, option) for scope, option in REQUEST_SCOPES.items()
                        if getattr(config, option) is not None}
        self._limiter: RateLimiter | None = None
        self._lock = threading.Lock()

    @property
    def limiter(self) -> RateLimiter:
        with self._lock:      # built on first use: importing `limits` costs nothing until then
            if self._limiter is None:
                self._limiter = RateLimiter(self._scopes, storage_uri(self._config),
                                            on_storage_error=self._config.rate_limit_on_storage_error)
            return self._limiter

    def check(self, scope: str, key: str) -> Decision | None:
        """Count one request of ``key`` in ``scope`` ("portal", "admin" or "webhook"). RateLimitedError (429)
        over the limit; RateLimitUnavailableError (503) when the storage is down and the policy is "closed".
        None when the scope has no limit (or the storage is down and the policy is "open")."""
        validation.choice(scope, "scope", tuple(REQUEST_SCOPES))
        validation.text(key, "key", max_length=255, required=True)
        if scope not in self._scopes:
            return None
        decision = self.limiter.hit(key, scope)
        if decision is not None and not decision.allowed:
            raise RateLimitedError(f"Too many requests: at most {decision.limit} every {_per(decision.window)}. "
                                   f"Try again in {max(1, decision.reset)} s.", retry_after=max(1, decision.reset),
                                   limit=decision.limit, reset=decision.reset)
        return decision


def _per(window: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(window, f"{window} seconds")


def _safe(uri: str) -> str:
    """The storage URI without a password."""
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
