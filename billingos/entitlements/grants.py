"""Grants: the local ``billing_entitlements`` rows, recomputed inside the subscription sync transaction.

A subscription that is ``active`` or ``trialing`` grants every feature of every product it holds (Stripe
product features, mirrored in ``billing_plan_features``). ``past_due`` keeps them until a grace period
ends; ``unpaid``, ``canceled``, ``incomplete*`` and ``paused`` grant nothing. Overrides (source
``override``) are never touched by a recompute. ``recompute`` returns the keys gained and lost, so the
signals fire once per actual change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import String, bindparam, delete, or_, select
from sqlalchemy.orm import Session, lazyload

from ..analytics.models import BillingLedgerEntry
from ..catalog.models import BillingFeature, BillingPlanFeature
from ..catalog.schemas import PlanFeature
from ..db import upsert
from ..subscriptions.models import BillingSubscription
from .models import BillingEntitlement

__all__ = ["OVERRIDE", "SUB_PREFIX", "Diff", "Recomputer", "feature_limit", "live_keys", "override_of", "sweep"]

GRANTING = ("active", "trialing")
GRACE = ("past_due",)
SUB_PREFIX = "subscription:"
OVERRIDE = "override"
LIMIT_META = "billingos_limit"       # feature metadata: a default limit such as "1000/month[/rollover]"


@dataclass
class Diff:
    owner_id: str
    granted: dict[str, str] = field(default_factory=dict)    # key -> source that brought it
    revoked: dict[str, str] = field(default_factory=dict)    # key -> why it went
    changed: bool = False                                     # any row changed (limits, expiry...)

    def __bool__(self) -> bool:
        return bool(self.granted or self.revoked or self.changed)


def live_keys(session: Session, owner_id: str) -> dict[str, str]:
    """Feature key -> one source, over every stored grant (expired rows are swept before diffing)."""
    rows = session.execute(_reads().live, {"owner": owner_id}).all()
    out: dict[str, str] = {}
    for key, source in rows:
        out.setdefault(key, source)
    return out


class _Reads(NamedTuple):
    grants: Any
    live: Any
    subscriptions: Any
    plan_features: Any


@lru_cache(maxsize=1)
def _reads() -> _Reads:
    """The recompute's reads, built once (every subscription sync runs them); values are bound per call."""
    e, sub, pf, f = BillingEntitlement, BillingSubscription, BillingPlanFeature, BillingFeature
    owner = bindparam("owner", type_=String())
    return _Reads(
        # every grant of the owner, fresh (a bulk statement may have changed rows this session holds)
        grants=select(e).where(e.owner_id == owner).order_by(e.source).execution_options(populate_existing=True),
        live=select(e.feature_key, e.source).where(e.owner_id == owner).order_by(e.source),
        subscriptions=select(sub).where(sub.owner_id == owner, sub.status.in_(GRANTING + GRACE)).order_by(sub.id)
        .options(lazyload(sub.schedule_row)),        # the schedule is not needed here
        # the plans' features with their catalog features (lookup_key is unique)
        plan_features=select(pf, f).outerjoin(f, f.lookup_key == pf.feature_key)
        .where(pf.product.in_(bindparam("products", expanding=True))).order_by(pf.feature_key))


def _expired(now: datetime) -> Any:
    return or_(BillingEntitlement.expires_at <= now, BillingEntitlement.grace_until <= now)


def sweep(session: Session, owner_id: str, now: datetime) -> dict[str, str]:
    """Delete the owner's grants that ran out; returns key -> why, for each removed row's key."""
    gone = session.execute(select(BillingEntitlement.feature_key, BillingEntitlement.source,
                                  BillingEntitlement.grace_until).where(
        BillingEntitlement.owner_id == owner_id, _expired(now))).all()
    if gone:
        _delete_expired(session, owner_id, now)
    return _why_gone(gone, now)


def _delete_expired(session: Session, owner_id: str, now: datetime) -> None:
    session.execute(delete(BillingEntitlement).where(BillingEntitlement.owner_id == owner_id, _expired(now))
                    .execution_options(synchronize_session=False))


def _why_gone(gone: Any, now: datetime) -> dict[str, str]:
    return {k: ("override_expired" if not s.startswith(SUB_PREFIX) else
                "grace_expired" if grace is not None and grace <= now else "subscription_ended")
            for k, s, grace in gone}


def _ran_out(row: BillingEntitlement, now: datetime) -> bool:
    """``_expired`` in Python, for rows already read."""
    return (row.expires_at is not None and row.expires_at <= now) or (row.grace_until is not None
                                                                      and row.grace_until <= now)


def feature_limit(feature: BillingFeature | None, pf: BillingPlanFeature | None) -> tuple[str, int | None, str, bool]:
    """(type, limit, reset, rollover) for a feature in a plan: the catalog's per-plan limit (product
    metadata) first, then the feature's own ``billingos_limit`` metadata. A limit of None is no cap."""
    meta = dict(feature.stripe_metadata or {}) if feature is not None else {}
    default = PlanFeature.from_metadata(feature.lookup_key, meta[LIMIT_META]) \
        if feature is not None and isinstance(meta.get(LIMIT_META), str) else None
    ftype = "metered" if (feature is not None and feature.type == "metered") or default is not None else "boolean"
    if pf is not None and (pf.unlimited or pf.limit_value is not None):
        ftype = "metered"
        return ftype, None if pf.unlimited else pf.limit_value, pf.reset or "billing_period", bool(pf.rollover)
    if default is not None:
        limit = None if default.limit in (None, "unlimited") else int(default.limit)
        return ftype, limit, default.reset, default.rollover
    return ftype, None, "billing_period", False


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two products of one subscription grant the same feature: limits add up; no cap wins."""
    out = dict(a)
    if a["limit_value"] is None or b["limit_value"] is None:
        out["limit_value"] = None
    else:
        out["limit_value"] = a["limit_value"] + b["limit_value"]
    out["rollover"] = a["rollover"] or b["rollover"]
    return out


class Recomputer:
    """Recompute one owner's subscription grants in the caller's session (``billing.entitlements``
    wraps it with the diff, signals and cache bump). It reads the catalog mirror only: products a
    subscription refers to were mirrored before the transaction (``catalog.ensure_products``)."""

    def __init__(self, *, grace_period: timedelta) -> None:
        self.grace_period = grace_period

    def recompute(self, session: Session, owner_id: str, now: datetime) -> Diff:
        diff = Diff(owner_id)
        # one read of every grant of the owner answers what live_keys, sweep and the stored plan grants read
        rows = list(session.scalars(_reads().grants, {"owner": owner_id}))
        before: dict[str, str] = {}
        for r in rows:
            before.setdefault(r.feature_key, r.source)
        gone = [r for r in rows if _ran_out(r, now)]
        if gone:
            _delete_expired(session, owner_id, now)
            for r in gone:
                session.expunge(r)       # its row is gone (a bulk delete does not touch the session)
        expired = _why_gone([(r.feature_key, r.source, r.grace_until) for r in gone], now)
        subs = list(session.scalars(_reads().subscriptions, {"owner": owner_id}))
        existing = {(r.feature_key, r.source): r for r in rows
                    if r.source.startswith(SUB_PREFIX) and not _ran_out(r, now)}
        desired = self._desired(session, owner_id, subs, now)
        for (key, source), row in existing.items():
            if (key, source) not in desired:
                session.delete(row)
                diff.changed = True
        for (key, source), values in desired.items():
            kept = existing.get((key, source))
            if kept is None or any(getattr(kept, k) != v for k, v in values.items() if k not in ("created_at",
                                                                                                "updated_at")):
                upsert(session, BillingEntitlement, {**values, "updated_at": now,
                                                     "created_at": kept.created_at if kept is not None else now},
                       key=["owner_id", "feature_key", "source"])
                diff.changed = True
        session.flush()
        after = live_keys(session, owner_id)
        diff.granted = {k: s for k, s in after.items() if k not in before}
        diff.revoked = {k: expired.get(k, before[k]) for k in before if k not in after}   # reason or lost source
        diff.changed = diff.changed or bool(expired)
        return diff

    def _desired(self, session: Session, owner_id: str, subs: list[BillingSubscription],
                 now: datetime) -> dict[tuple[str, str], dict[str, Any]]:
        pids = {i.product_stripe_id for s in subs for i in s.items if i.product_stripe_id}
        pfs: dict[str, list[BillingPlanFeature]] = {}
        features: dict[str, BillingFeature] = {}
        if pids:
            for pf, f in session.execute(_reads().plan_features, {"products": sorted(pids)}):
                pfs.setdefault(pf.product, []).append(pf)
                if f is not None:
                    features[f.lookup_key] = f
        desired: dict[tuple[str, str], dict[str, Any]] = {}
        for sub in subs:
            source = SUB_PREFIX + sub.stripe_id
            expires = sub.cancel_at if sub.cancel_at is not None else None
            if expires is not None and expires <= now:
                continue
            for product in dict.fromkeys(item.product_stripe_id or "" for item in sub.items):   # a product once,
                for pf in pfs.get(product, []):            # however many of its prices (licensed + metered) it has
                    feature = features.get(pf.feature_key)
                    if feature is not None and not feature.active:
                        continue
                    grace = None
                    if sub.status in GRACE:
                        grace = self._past_due_since(session, sub, now) + self.grace_period
                        if grace <= now:
                            continue
                    ftype, limit, reset, rollover = feature_limit(feature, pf)
                    values = {"owner_id": owner_id, "feature_key": pf.feature_key, "source": source,
                              "subscription_stripe_id": sub.stripe_id, "feature_type": ftype,
                              "limit_value": limit, "reset": reset if ftype == "metered" else None,
                              "rollover": rollover, "period_start": sub.current_period_start,
                              "period_end": sub.current_period_end, "expires_at": expires,
                              "grace_until": grace, "reason": None}
                    prev = desired.get((pf.feature_key, source))
                    desired[(pf.feature_key, source)] = values if prev is None else _merge(prev, values)
        return desired

    @staticmethod
    def _past_due_since(session: Session, sub: BillingSubscription, now: datetime) -> datetime:
        """When the subscription entered past_due (Stripe's time), from the subscription ledger."""
        since = now
        ledger = BillingLedgerEntry
        for status, at in session.execute(select(ledger.status_after, ledger.effective_at)
                                          .where(ledger.subscription_stripe_id == sub.stripe_id,
                                                 ledger.source != "correction")
                                          .order_by(ledger.effective_at.desc(), ledger.rank.desc(),
                                                    ledger.id.desc())):
            if status not in GRACE:
                break
            since = at
        return since


def override_of(session: Session, owner_id: str, key: str) -> Any:
    """The owner's override for ``key`` as a ``Grant`` (the audit log's before/after), or None."""
    from .schemas import Grant
    row = session.scalars(select(BillingEntitlement).filter_by(owner_id=owner_id, feature_key=key,
                                                               source=OVERRIDE)).one_or_none()
    return Grant.from_row(row) if row is not None else None
