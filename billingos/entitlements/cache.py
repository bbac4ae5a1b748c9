"""The cache hierarchy for feature checks: an in-process dict, then Redis, then the database.

* **In process**: ``entries[owner_id]`` is an :class:`Entry` whose ``flags`` map feature key -> ``True``
  (granted, no end) or the unix time the grant ends. A hit is two dict lookups and one
  ``time.monotonic()`` compare; no Redis call, no allocation.
* **Redis**: ``{ns}:v:{owner}`` is the owner's version (INCR on every committed grant change) and
  ``{ns}:s:{owner}`` a JSON snapshot tagged with the version it was built from. One MGET reads both; a
  snapshot whose tag differs from the version is ignored, so a late writer can never resurrect stale
  grants. Each change is also PUBLISHed on ``{ns}:inval``; a daemon thread per process drops the local
  entry when it hears it.
* **Database**: the ``billing_entitlements`` rows (see ``grants.py``).

Staleness: a local entry lives ``local_ttl`` seconds at most (then it is re-validated with one MGET);
pub/sub usually invalidates it within milliseconds. See docs/entitlements.md for the measured bound.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

__all__ = ["BackendDown", "EntitlementCache", "Entry", "FeatureState", "Features"]

log = logging.getLogger("billingos.entitlements")


class FeatureState(NamedTuple):
    """One granted feature as the cache holds it (a JSON array in Redis)."""

    until: float | None             # unix seconds the grant ends; None: no end
    type: str                       # boolean | metered
    limit: int | None
    reset: str | None
    rollover: bool
    period_start: float | None      # unix seconds
    period_end: float | None
    grace: bool                     # kept only by the past_due grace period


Features = dict[str, FeatureState]


class BackendDown(Exception):
    """Redis or the database could not answer; ``backend`` says which."""

    def __init__(self, backend: str) -> None:
        super().__init__(backend)
        self.backend = backend


class Entry:
    """One owner's features as this process knows them."""

    __slots__ = ("deadline", "features", "flags", "version")

    def __init__(self, features: Features, version: int | None, deadline: float) -> None:
        self.features = features
        self.version = version
        self.deadline = deadline
        self.flags: dict[str, Any] = {k: (True if v.until is None else float(v.until)) for k, v in features.items()}


class EntitlementCache:
    def __init__(self, redis_url: str | None, *, namespace: str = "billingos:ent", local_ttl: float = 1.0,
                 redis_ttl: int = 60, timeout: float = 0.25, retry_after: float = 1.0,
                 max_entries: int = 100_000) -> None:
        self.entries: dict[str, Entry] = {}
        self.namespace = namespace
        self.local_ttl = local_ttl
        self.redis_ttl = redis_ttl
        self.retry_after = retry_after
        self.max_entries = max_entries
        self.redis: Any = None
        if redis_url:
            import redis
            self.redis = redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._down_until = 0.0
        self._seq = 0                              # bumped on every invalidation
        self._invalidated: dict[str, int] = {}     # owner -> seq of its last invalidation
        self._reset = 0                            # seq of the last expire_all (every owner may have changed)
        self._pending: set[str] = set()            # bumps that could not reach Redis yet
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self.listening = False
        self.closed = False
        self.invalidations_heard = 0
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_after_fork(ref))

    # --- keys ----------------------------------------------------------------------------------------
    def _vkey(self, owner: str) -> str:
        return f"{self.namespace}:v:{owner}"

    def _skey(self, owner: str) -> str:
        return f"{self.namespace}:s:{owner}"

    @property
    def channel(self) -> str:
        return f"{self.namespace}:inval"

    # --- reads -----------------------------------------------------------------------------------------
    def redis_available(self) -> bool:
        return self.redis is not None and time.monotonic() >= self._down_until

    def load(self, owner: str, from_db: Callable[[str], Features]) -> Entry:
        """The owner's entry from Redis (if its snapshot is current) or the database; cached locally.

        Raises BackendDown("redis") when Redis is configured but unreachable (the caller applies the
        feature's policy), BackendDown("database") when the database fails, BackendDown("closed") after
        close()."""
        if self.closed:
            raise BackendDown("closed")   # no reconnect, no new listener: answers come from the policy
        start = self._seq
        version: int | None = None
        if self.redis is not None:
            if not self.redis_available():
                raise BackendDown("redis")
            self._start_listener()
            try:
                self._flush_pending()
                raw_version, raw_snap = self.redis.mget(self._vkey(owner), self._skey(owner))
            except Exception as e:
                self._mark_down(e)
                raise BackendDown("redis") from e
            version = int(raw_version or 0)
            if raw_snap is not None:
                snap = json.loads(raw_snap)
                if snap.get("v") == version:
                    return self._store(owner, {k: FeatureState(*v) for k, v in snap["f"].items()}, version, start)
        try:
            features = from_db(owner)
        except Exception as e:
            log.warning("billingos entitlements: database unavailable (%s)", type(e).__name__)
            raise BackendDown("database") from e
        if version is not None:
            try:
                self.redis.set(self._skey(owner), json.dumps({"v": version, "f": features}), ex=self.redis_ttl)
            except Exception as e:
                self._mark_down(e)
        return self._store(owner, features, version, start)

    def load_many(self, owners: list[str], from_db: Callable[[list[str]], dict[str, Features]]) -> None:
        """Load the owners without a current local entry from the database in one read (bulk limit
        lookups). Only without Redis (whose snapshots ``load`` reads per owner); a failure leaves the
        owners to ``load``, which reports it."""
        stale = [o for o in owners if (e := self.entries.get(o)) is None or e.deadline <= time.monotonic()]
        if self.closed or self.redis is not None or not stale:
            return
        start = self._seq
        try:
            features = from_db(stale)
        except Exception:
            return
        for owner in stale:
            self._store(owner, features[owner], None, start)

    def remember(self, owner: str, features: Features) -> Entry:
        """Keep ``features`` as the owner's last known answer (read from the database while Redis is down)."""
        return self._store(owner, features, None, self._seq)

    def _store(self, owner: str, features: Features, version: int | None, start: int) -> Entry:
        fresh = self._invalidated.get(owner, -1) <= start   # no invalidation arrived while we were loading
        entry = Entry(features, version, time.monotonic() + self.local_ttl if fresh else 0.0)
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[owner] = entry
        return entry

    # --- invalidation ------------------------------------------------------------------------------------
    def invalidate(self, owner: str, *, forget: bool) -> None:
        """Drop (``forget``: a change this process made) or expire (heard from another process, so the
        value stays available as the last known one) the owner's local entry."""
        with self._lock:
            self._seq += 1
            self._invalidated[owner] = self._seq
            if len(self._invalidated) > self.max_entries:
                self._invalidated = {owner: self._seq}
        if forget:
            self.entries.pop(owner, None)
        else:
            entry = self.entries.get(owner)
            if entry is not None:
                entry.deadline = 0.0

    def generation(self, owner: str) -> int:
        """A number that changes whenever the owner's entitlements may have changed, here or (heard through
        Redis) in another process. Caches derived from entitlements keep it and compare for equality."""
        return max(self._invalidated.get(owner, -1), self._reset)

    def expire_all(self) -> None:
        with self._lock:
            self._seq += 1
            self._reset = self._seq
            for owner in list(self.entries):
                self._invalidated[owner] = self._seq
        for entry in list(self.entries.values()):
            entry.deadline = 0.0

    def bump(self, owners: Iterable[str]) -> None:
        """After a commit: forget locally, then INCR each owner's version and PUBLISH it."""
        owners = list(owners)
        for owner in owners:
            self.invalidate(owner, forget=True)
        if self.redis is None or self.closed:
            return
        with self._lock:
            self._pending.update(owners)
        if self.redis_available():
            try:
                self._flush_pending()
            except Exception as e:
                self._mark_down(e)

    def _flush_pending(self) -> None:
        with self._lock:
            owners, self._pending = sorted(self._pending), set()
        if not owners:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for owner in owners:
                pipe.incr(self._vkey(owner))
                pipe.delete(self._skey(owner))
                pipe.publish(self.channel, owner)
            pipe.execute()
        except Exception:
            with self._lock:
                self._pending.update(owners)
            raise

    def _mark_down(self, error: BaseException) -> None:
        log.warning("billingos entitlements: Redis unavailable (%s); retrying in %.1fs",
                    type(error).__name__, self.retry_after)
        self._down_until = time.monotonic() + self.retry_after

    # --- the pub/sub listener ---------------------------------------------------------------------------
    def _start_listener(self) -> None:
        if self._listener is not None and self._listener.is_alive():
            return
        with self._lock:
            if self.closed or (self._listener is not None and self._listener.is_alive()):
                return
            self._stop.clear()
            ref = weakref.ref(self)
            self._listener = threading.Thread(target=_listen, args=(ref, self._stop, self.redis, self.channel),
                                              name="billingos-entitlements-invalidation", daemon=True)
            self._listener.start()

    def wait_listening(self, timeout: float = 5.0) -> bool:
        """Block until the invalidation listener is subscribed (tests and the benchmark)."""
        if self.redis is None or self.closed:
            return False
        self._start_listener()
        deadline = time.monotonic() + timeout
        while not self.listening and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.listening

    def close(self) -> None:
        """For good: stop the listener, close the Redis client, and expire every entry so that later
        checks answer by the failure policy (``last_known`` keeps the values already in process).
        Idempotent."""
        with self._lock:    # under the lock so _start_listener cannot start a new thread after this
            self.closed = True
            self._stop.set()
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.join(timeout=2)    # it polls every 0.2 s
        self.listening = False
        self.expire_all()
        if self.redis is not None:
            self.redis.close()

    def _after_fork(self) -> None:
        self.entries = {}
        self._listener = None
        self.listening = False
        self._stop = threading.Event()
        self._lock = threading.Lock()


def _reset_after_fork(ref: weakref.ref[EntitlementCache]) -> None:
    cache = ref()
    if cache is not None:
        cache._after_fork()


def _listen(ref: weakref.ref[EntitlementCache], stop: threading.Event, client: Any, channel: str) -> None:
    """Subscribe, drop local entries named on the channel; on any error expire everything and retry."""
    while not stop.is_set():
        pubsub = None
        try:
            pubsub = client.pubsub()
            pubsub.subscribe(channel)
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.2)
                if message is None:
                    continue
                cache = ref()
                if cache is None:
                    return
                if message.get("type") == "subscribe":
                    cache.expire_all()   # anything may have changed while we were not listening
                    cache.listening = True
                elif message.get("type") == "message":
                    data = message["data"]
                    cache.invalidate(data.decode() if isinstance(data, bytes) else str(data), forget=False)
                    cache.invalidations_heard += 1
                del cache
        except Exception as e:
            cache = ref()
            if cache is None:
                return
            cache.listening = False
            cache.expire_all()
            cache._mark_down(e)
            wait = cache.retry_after
            del cache
            stop.wait(wait)
        finally:
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    pubsub.close()
