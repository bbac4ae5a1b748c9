"""``billing.entitlements``: feature checks through the cache hierarchy, overrides, and metered quotas.

``has_feature`` and ``check`` never raise into the host's request: bad input answers False (reason
``invalid_input``), an unknown key answers reason ``unknown_feature``, and an unreachable Redis or
database answers by the feature's failure policy. ``consume``/``reserve`` raise InvalidInputError on bad
input before anything is written.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import validation
from ..actor import Actor, parse_actor
from ..catalog.mirror import sync_feature
from ..catalog.models import BillingFeature
from ..db import in_many, on_commit, upsert
from ..domain_events import CatalogSynced, EntitlementOverrideChanged, EntitlementsChanged, SubscriptionSynced
from ..errors import BillingError, InvalidInputError, MigrationRequiredError
from ..freshness import lock_object
from ..stripe_api import call_stripe
from ..subscriptions.models import BillingSubscription
from ..webhooks import Mirror
from .cache import BackendDown, EntitlementCache, Entry, Features
from .grants import OVERRIDE, SUB_PREFIX, Diff, Recomputer, feature_limit, live_keys, override_of, sweep
from .inputs import KEY_PATTERN, MAX_AMOUNT, amount_of, feature_key, valid_owner
from .limits import Limits
from .mirror import summary_mirror
from .models import BillingEntitlement
from .quota import window
from .quota_ops import QuotaOps
from .schemas import POLICIES, Check, Grant, Policy, Reservation
from .snapshot import features_of, spec_of

if TYPE_CHECKING:
    from ..catalog.service import CatalogService
    from ..context import Context

__all__ = ["EntitlementService"]

log = logging.getLogger("billingos.entitlements")

POLICY_META = "billingos_on_failure"     # feature metadata: open | closed | last_known
_monotonic = time.monotonic
_INVALID = Check(False, None, None, None, None, "invalid_input")
_NONE = Check(False, None, None, None, None, "not_granted")
_UNKNOWN = Check(False, None, None, None, None, "unknown_feature")


class EntitlementService:
    """See docs/entitlements.md. Built by ``Billing``; tune it with ``configure(...)``."""

    def __init__(self, ctx: Context, *, catalog: CatalogService) -> None:
        self._ctx = ctx
        self._catalog = catalog
        self._clock = ctx.clock
        self.default_policy: Policy = "last_known"
        self._policies: dict[str, str] = {}
        self._index: dict[str, tuple[str, str | None]] | None = None   # key -> (type, metadata policy)
        self._index_at = -math.inf
        self._index_error: Exception | None = None      # why the last refresh failed
        self.index_ttl = 30.0
        self.cache = EntitlementCache(ctx.config.redis_url)
        self._recomputer = Recomputer(grace_period=timedelta(days=10))
        self.quota = QuotaOps(ctx, known_type=self.known_type, policy=self._policy_of)
        self._limits = Limits(ctx, self.cache, entry=self._entry, check=self.check)
        ctx.tasks.job("entitlements.refresh", self.refresh)
        ctx.tasks.job("entitlements.recompute_all", self.recompute_all)
        ctx.tasks.every("entitlements.expire", timedelta(minutes=1), self.expire)
        ctx.events.subscribe_in_transaction(SubscriptionSynced, self._subscription_synced)
        ctx.events.subscribe(CatalogSynced, self._catalog_synced)

    # --- configuration -----------------------------------------------------------------------------
    @property
    def grace_period(self) -> timedelta:
        return self._recomputer.grace_period

    def configure(self, *, grace_period: timedelta | None = None, default_policy: str | None = None,
                  local_ttl: float | None = None, redis_ttl: int | None = None, redis_namespace: str | None = None,
                  redis_retry_after: float | None = None) -> None:
        """Tune the service (normally once, at start-up). ``local_ttl`` bounds how long a process trusts
        its in-process answer without asking Redis; ``redis_ttl`` how long a snapshot lives in Redis.
        Every argument is checked before any is applied."""
        if grace_period is not None:
            validation.timedelta_(grace_period, "grace_period", minimum=timedelta(), maximum=timedelta(days=365))
        if default_policy is not None:
            validation.choice(default_policy, "default_policy", POLICIES)
        if local_ttl is not None:
            validation.seconds(local_ttl, "local_ttl", minimum=0, maximum=3600, open_minimum=True)
        if redis_ttl is not None:
            validation.integer(redis_ttl, "redis_ttl", minimum=1, maximum=86400)
        if redis_namespace is not None:
            validation.lookup_key(redis_namespace, "redis_namespace")
        if redis_retry_after is not None:
            validation.seconds(redis_retry_after, "redis_retry_after", minimum=0, maximum=600)
        if grace_period is not None:
            self._recomputer.grace_period = grace_period
        if default_policy is not None:
            self.default_policy = default_policy  # type: ignore[assignment]
        if local_ttl is not None:
            self.cache.local_ttl = float(local_ttl)
        if redis_ttl is not None:
            self.cache.redis_ttl = redis_ttl
        if redis_namespace is not None:
            self.cache.namespace = redis_namespace
        if redis_retry_after is not None:
            self.cache.retry_after = float(redis_retry_after)
        self.cache.expire_all()

    def set_policy(self, key: str, policy: str) -> None:
        """What ``has_feature``/``check`` answer for ``key`` when Redis or the database is unreachable:
        ``open`` (allow), ``closed`` (deny) or ``last_known`` (this process's last answer). Overrides
        the feature's ``billingos_on_failure`` metadata."""
        key = feature_key(key)
        self._policies[key] = validation.choice(policy, "policy", POLICIES)

    def policy(self, key: str) -> str:
        """The failure policy that applies to feature ``key``."""
        return self._policy_of(feature_key(key))

    def _policy_of(self, key: str) -> str:
        chosen = self._policies.get(key)
        if chosen is None:
            index = self._feature_index()
            chosen = (index.get(key) or ("", None))[1] if index is not None else None
        return chosen if chosen in POLICIES else self.default_policy

    def close(self) -> None:
        """Stop the invalidation listener and close the Redis client."""
        self.cache.close()

    # --- feature checks: the hot path ----------------------------------------------------------------
    def has_feature(self, owner_id: str, key: str) -> bool:
        """True when the owner may use ``key`` now. Never raises; unknown keys and bad input are False."""
        try:
            entry = self.cache.entries[owner_id]
            if entry.deadline > _monotonic():
                until = entry.flags.get(key)
                if until is True:
                    return True
                if until is None:
                    return False
                return bool(until > self._clock.now().timestamp())
        except Exception:
            pass
        return self._has_feature_slow(owner_id, key)

    def _has_feature_slow(self, owner_id: Any, key: Any) -> bool:
        try:
            return self.check(owner_id, key, 0).allowed
        except Exception:  # pragma: no cover - check() itself never raises
            return False

    def check(self, owner_id: str, key: str, amount: int = 1) -> Check:
        """Whether ``amount`` of ``key`` may be used now, with the limit, usage and reset time."""
        try:
            return self._check(owner_id, key, amount)
        except Exception:
            log.exception("billingos entitlements: check(%r, %r) failed; answering by policy", owner_id, key)
            return self._fallback(owner_id, key, None, "internal")

    def _check(self, owner_id: Any, key: Any, amount: Any) -> Check:
        if not valid_owner(owner_id) or not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) \
                or isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
            return _INVALID
        entry, down = self._entry(owner_id)
        if down is not None:
            return self._fallback(owner_id, key, entry, down)
        assert entry is not None
        info = entry.features.get(key)
        now = self._clock.now()
        if info is None or (info.until is not None and info.until <= now.timestamp()):
            return _UNKNOWN if self._unknown(key) else _NONE
        reason = "grace_period" if info.grace else "granted"
        if info.type != "metered":
            return Check(True, None, None, None, None, reason)
        spec = spec_of(info)
        try:
            used, carried = self.quota.usage(owner_id, key, spec, now)
        except Exception:
            return self._fallback(owner_id, key, entry, "database")
        end = window(spec, now)[1]
        if spec.limit is None:
            return Check(True, None, used, None, end, reason)
        limit = spec.limit + carried
        allowed = used + amount <= limit
        return Check(allowed, limit, used, max(0, limit - used), end, reason if allowed else "limit_reached")

    def _entry(self, owner_id: str) -> tuple[Entry | None, str | None]:
        entry = self.cache.entries.get(owner_id)
        if entry is not None and entry.deadline > _monotonic():
            return entry, None
        try:
            return self.cache.load(owner_id, self._features_from_db), None
        except BackendDown as e:
            return entry, e.backend

    def _fallback(self, owner_id: Any, key: Any, entry: Entry | None, backend: str) -> Check:
        """A backend is down: answer by the feature's policy, never by raising."""
        policy = self._policy_of(key) if isinstance(key, str) else "closed"
        if policy == "open":
            return Check(True, None, None, None, None, "fail_open")
        if policy == "last_known":
            if entry is None and backend == "redis" and valid_owner(owner_id):
                try:   # nothing known yet: the database may still answer (then it is the last known value)
                    entry = self.cache.remember(owner_id, self._features_from_db(owner_id))
                except Exception:
                    entry = None
            if entry is not None:
                info = entry.features.get(key)
                live = info is not None and (info.until is None or info.until > self._clock.now().timestamp())
                limit = info.limit if info is not None and live and info.type == "metered" else None
                return Check(live, limit, None, None, None, "last_known")
        return Check(False, None, None, None, None, "fail_closed")

    def _unknown(self, key: str) -> bool:
        index = self._feature_index()
        return index is not None and key not in index

    def _feature_index(self) -> dict[str, tuple[str, str | None]] | None:
        """Every known feature key -> (type, failure policy from its metadata); refreshed every 30 s."""
        if _monotonic() - self._index_at < self.index_ttl:
            return self._index
        try:
            with self._ctx.session_factory() as session:
                rows = list(session.scalars(select(BillingFeature)))
                self._index = {r.lookup_key: (feature_limit(r, None)[0], (r.stripe_metadata or {}).get(POLICY_META))
                               for r in rows}
            self._index_at, self._index_error = _monotonic(), None
        except Exception as e:
            self._index_at = _monotonic() - self.index_ttl + 1.0   # retry in a second
            self._index_error = e
        return self._index

    def _features_from_db(self, owner_id: str) -> Features:
        with self._ctx.session_factory() as session:
            rows = list(session.scalars(select(BillingEntitlement).where(BillingEntitlement.owner_id == owner_id)
                                        .order_by(BillingEntitlement.source)))
        return features_of(rows, self._clock.now())

    # --- metered quotas (see quota_ops.py) ------------------------------------------------------------
    def consume(self, owner_id: str, key: str, amount: int, idempotency_key: str) -> Check:
        """Check and record ``amount`` atomically. A retry with the same idempotency key is not counted
        again (reason ``duplicate``). Bad input raises InvalidInputError; an unreachable database
        answers by the feature's policy (nothing is recorded)."""
        return self.quota.consume(owner_id, key, amount, idempotency_key)

    def reserve(self, owner_id: str, key: str, amount: int, idempotency_key: str, *,
                timeout: timedelta = timedelta(minutes=15)) -> Reservation:
        """Hold ``amount`` for a long job; ``commit`` or ``release`` it. After ``timeout`` it stops counting."""
        return self.quota.reserve(owner_id, key, amount, idempotency_key, timeout=timeout)

    def commit(self, reservation: Reservation | str, amount: int | None = None, *,
               owner_id: str | None = None) -> Check:
        """Turn a reservation into usage: all of it, or ``amount`` (at most what was reserved).

        The id is a capability: whoever holds it can settle it. With ``owner_id``, a reservation of any
        other owner is a NotFoundError, exactly like an unknown id."""
        return self.quota.commit(reservation, amount, owner_id=owner_id)

    def release(self, reservation: Reservation | str, *, owner_id: str | None = None) -> bool:
        """Give a reservation back. True when it was still held. ``owner_id`` as for ``commit``."""
        return self.quota.release(reservation, owner_id=owner_id)

    # --- overrides ------------------------------------------------------------------------------------
    def grant(self, owner_id: str, key: str, *, limit: int | None = None, reset: str | None = None,
              rollover: bool = False, expires_at: datetime | None = None, reason: str | None = None,
              actor: Actor | None = None) -> Grant:
        """A per-owner override (e.g. a sales-granted feature), optionally with a limit and an expiry.

        It adds to whatever the plan grants (limits add up) and survives plan changes. Granting the
        same key again replaces the override. ``actor`` (default: the system) is recorded in the audit log."""
        owner_id = validation.owner_id(owner_id)
        key = feature_key(key)
        ftype = self.known_type(key)
        if limit is not None:
            amount_of(limit, "limit", minimum=0)
            if ftype != "metered":
                raise InvalidInputError(f"{key!r} is a boolean feature; only metered features take a limit.",
                                        param="limit")
        if reset is not None and reset not in ("billing_period", "day", "week", "month", "year", "never"):
            raise InvalidInputError("reset must be billing_period, day, week, month, year or never.", param="reset")
        if not isinstance(rollover, bool):
            raise InvalidInputError("rollover must be True or False.", param="rollover")
        now = self._clock.now()
        if expires_at is not None and (not isinstance(expires_at, datetime) or expires_at.tzinfo is None
                                       or expires_at <= now):
            raise InvalidInputError("expires_at must be a timezone-aware datetime in the future.", param="expires_at")
        validation.text(reason, "reason", max_length=500)
        who = parse_actor(actor)
        values = {"owner_id": owner_id, "feature_key": key, "source": OVERRIDE, "subscription_stripe_id": None,
                  "feature_type": ftype, "limit_value": limit,
                  "reset": (reset or "billing_period") if ftype == "metered" else None, "rollover": rollover,
                  "period_start": None, "period_end": None, "expires_at": expires_at, "grace_until": None,
                  "reason": reason, "created_at": now, "updated_at": now}
        with self._ctx.transaction() as session:
            self._locked(session, owner_id)
            diff = self._diffing(session, owner_id, now)
            before = override_of(session, owner_id, key)
            row = upsert(session, BillingEntitlement, values, key=["owner_id", "feature_key", "source"],
                         update=[k for k in values if k not in ("owner_id", "feature_key", "source", "created_at")])
            out = Grant.from_row(row)
            self._ctx.events.publish(session, EntitlementOverrideChanged(owner_id, key, before, out, who))
            self._finish(session, diff, now)
        return out

    def revoke(self, owner_id: str, key: str, *, actor: Actor | None = None) -> bool:
        """Remove the owner's override for ``key`` (plan grants stay); True when one was removed. Audited."""
        owner_id = validation.owner_id(owner_id)
        key = feature_key(key)
        self.known_type(key)
        who = parse_actor(actor)
        now = self._clock.now()
        with self._ctx.transaction() as session:
            self._locked(session, owner_id)
            diff = self._diffing(session, owner_id, now)
            before = override_of(session, owner_id, key)
            gone = session.execute(delete(BillingEntitlement).where(
                BillingEntitlement.owner_id == owner_id, BillingEntitlement.feature_key == key,
                BillingEntitlement.source == OVERRIDE).execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if gone:
                self._ctx.events.publish(session, EntitlementOverrideChanged(owner_id, key, before, None, who))
            self._finish(session, diff, now, reason="override_revoked")
        return bool(gone)

    def limit_for(self, owner_id: str, meter: str) -> int | None:
        """The owner's effective limit for the metered feature(s) counted by ``meter`` (a meter event name
        or a feature key): plan or override, plus rollover, as ``check`` sees it. None when no such
        feature is granted or when it is unlimited. Usage thresholds read their limits here."""
        pair = (validation.owner_id(owner_id), validation.meter_name(meter))
        return self.limits_for({pair})[pair]

    def limits_for(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """``limit_for`` for many (owner, meter) pairs: one query finds the features each meter counts, and
        ``check`` runs only for owners holding a grant of such a feature (a bulk load of 30,000 owners
        without one costs two queries, not 30,000 cache loads)."""
        wanted = validation.owner_meter_pairs(pairs)
        meters = sorted({meter for _, meter in wanted})
        f = BillingFeature
        with self._ctx.session_factory() as session:
            rows = session.execute(select(f.lookup_key, f.meter_event_name).where(
                f.type == "metered", f.meter_event_name.in_(meters) | f.lookup_key.in_(meters))).all()
            counted = {m: sorted({k for k, name in rows if m in (k, name)}) for m in meters}
            keys = {k for ks in counted.values() for k in ks}
            e = BillingEntitlement
            granted = {(owner, key) for owned in in_many(session, e.owner_id, {o for o, _ in wanted}) if keys
                       for owner, key in session.execute(select(e.owner_id, e.feature_key).where(
                           owned, e.feature_key.in_(keys)))}
        return self._limits.largest({(owner, meter): [k for k in counted[meter] if (owner, k) in granted]
                                     for owner, meter in wanted})

    def grants(self, owner_id: str) -> list[Grant]:
        """The owner's live grants, straight from the database (plan grants and overrides)."""
        owner_id = validation.owner_id(owner_id)
        now = self._clock.now()
        with self._ctx.session_factory() as session:
            rows = session.scalars(select(BillingEntitlement).where(BillingEntitlement.owner_id == owner_id)
                                   .order_by(BillingEntitlement.feature_key, BillingEntitlement.source))
            return [Grant.from_row(r) for r in rows if (r.expires_at is None or r.expires_at > now)
                    and (r.grace_until is None or r.grace_until > now)]

    def generation(self, owner_id: str) -> int:
        """Changes whenever the owner's entitlements may have changed (``EntitlementCache.generation``)."""
        return self.cache.generation(validation.owner_id(owner_id))

    def known_type(self, key: str) -> str:
        """The feature's type (boolean or metered); InvalidInputError for an unknown key, BackendDown when
        the database cannot tell."""
        feature_key(key)
        index = self._feature_index()
        if index is None or key not in index:
            self._index_at = -math.inf
            index = self._feature_index()
        if index is None:
            if isinstance(self._index_error, MigrationRequiredError):   # not an outage: a setup step is missing
                raise self._index_error
            raise BackendDown("database")
        if key not in index and self._fetch_feature(key):
            self._index_at = -math.inf
            index = self._feature_index() or {}
        if key not in index:
            raise InvalidInputError(f"Unknown feature {key!r}: no entitlement feature has that lookup_key. "
                                    "Declare it in the catalog and run billing.catalog.sync().", param="key")
        return index[key][0]

    def _fetch_feature(self, key: str) -> bool:
        """A feature made in Stripe (or the emulator) but not yet mirrored: look it up by lookup_key."""
        try:
            found = call_stripe(self._ctx.stripe.v1.entitlements.features.list, params={"lookup_key": key})
        except BillingError:
            return False
        if not found.data:
            return False
        with self._ctx.transaction() as session:
            sync_feature(session, found.data[0], now=self._clock.now())
        return True

    # --- recomputing grants ------------------------------------------------------------------------------
    def _subscription_synced(self, session: Session, event: SubscriptionSynced) -> None:
        """A subscription changed: its owner's grants change in the same transaction."""
        if event.after.owner_id:
            self.recompute_in(session, event.after.owner_id)
        if event.before is not None and event.before.owner_id not in (None, event.after.owner_id):
            self.recompute_in(session, event.before.owner_id)     # its customer was moved to another owner

    def recompute_in(self, session: Session, owner_id: str) -> Diff:
        """Recompute in the caller's transaction (no Stripe call); the cache bump and signals wait for its
        commit."""
        now = self._clock.now()
        self._locked(session, owner_id)
        diff = self._recomputer.recompute(session, owner_id, now)
        self._name_reasons(session, diff)
        self._announce(session, diff)
        return diff

    def refresh(self, owner_id: str) -> list[Grant]:
        """Re-read the owner's products' features from Stripe and recompute their grants now."""
        owner_id = validation.owner_id(owner_id)
        self.refresh_products(owner_id)
        with self._ctx.transaction() as session:
            self.recompute_in(session, owner_id)
        return self.grants(owner_id)

    def refresh_products(self, owner_id: str) -> None:
        """Re-read from Stripe the products the owner's live subscriptions hold (before a recompute)."""
        validation.owner_id(owner_id)
        with self._ctx.session_factory() as session:
            subs = session.scalars(select(BillingSubscription).where(
                BillingSubscription.owner_id == owner_id,
                BillingSubscription.status.in_(("active", "trialing", "past_due"))))
            products = {i.product_stripe_id for sub in subs for i in sub.items if i.product_stripe_id}
        self._catalog.refresh_products(products)

    def mirrors(self) -> list[Mirror]:
        return [summary_mirror(self, self._ctx)]

    def recompute_all(self) -> int:
        """Recompute every owner that has grants or a live subscription (after a catalog change)."""
        with self._ctx.session_factory() as session:
            owners = set(session.scalars(select(BillingEntitlement.owner_id).where(
                BillingEntitlement.source.startswith(SUB_PREFIX)).distinct()))
            owners |= {o for o in session.scalars(select(BillingSubscription.owner_id).where(
                BillingSubscription.status.in_(("active", "trialing", "past_due"))).distinct()) if o}
        for owner in sorted(owners):
            with self._ctx.transaction() as session:
                self.recompute_in(session, owner)
        return len(owners)

    def expire(self) -> int:
        """Periodic: remove grants whose expiry or grace period passed (firing entitlement_revoked) and
        mark lapsed reservations expired. Returns how many owners changed."""
        now = self._clock.now()
        self.quota.expire_reservations(now)
        with self._ctx.session_factory() as session:
            owners = set(session.scalars(select(BillingEntitlement.owner_id).where(
                (BillingEntitlement.expires_at <= now) | (BillingEntitlement.grace_until <= now)).distinct()))
        for owner in sorted(owners):
            with self._ctx.transaction() as session:
                self.recompute_in(session, owner)
        return len(owners)

    def _catalog_synced(self, event: CatalogSynced) -> None:
        self._index_at = -math.inf
        if event.report is not None:      # a catalog.sync may change any plan: every owner's grants
            self._ctx.tasks.enqueue("entitlements.recompute_all")

    def _locked(self, session: Session, owner_id: str) -> None:
        lock_object(session, f"entitlements:{owner_id}")   # one grant writer per owner at a time

    def _diffing(self, session: Session, owner_id: str, now: datetime) -> Diff:
        diff = Diff(owner_id)
        diff.revoked = sweep(session, owner_id, now)
        diff.granted = live_keys(session, owner_id)   # the "before" set, until _finish
        return diff

    def _finish(self, session: Session, diff: Diff, now: datetime, *, reason: str = "not_granted") -> None:
        session.flush()
        before, expired = diff.granted, diff.revoked
        after = live_keys(session, diff.owner_id)
        diff.granted = {k: s for k, s in after.items() if k not in before}
        diff.revoked = {k: expired.get(k, reason) for k in {*before, *expired} if k not in after}
        diff.changed = True
        self._announce(session, diff)

    def _name_reasons(self, session: Session, diff: Diff) -> None:
        """Say why a subscription grant went: the subscription ended, became unpaid, paused, or changed plan."""
        for key, why in list(diff.revoked.items()):
            if why == OVERRIDE:
                diff.revoked[key] = "override_revoked"
            elif why.startswith(SUB_PREFIX):
                status = session.scalar(select(BillingSubscription.status).where(
                    BillingSubscription.stripe_id == why[len(SUB_PREFIX):]))
                diff.revoked[key] = {"canceled": "subscription_ended", "incomplete_expired": "subscription_ended",
                                     "incomplete": "subscription_ended", "unpaid": "unpaid",
                                     "paused": "paused"}.get(status or "", "plan_changed")

    def _announce(self, session: Session, diff: Diff) -> None:
        """After the commit: every process's cache forgets the owner, then ``EntitlementsChanged``."""
        if diff:
            on_commit(session, lambda: self.cache.bump([diff.owner_id]))
        if diff.granted or diff.revoked:
            self._ctx.events.publish(session, EntitlementsChanged(
                diff.owner_id, dict(sorted(diff.granted.items())), dict(sorted(diff.revoked.items()))))
