"""``billing.usage``: track usage events in the host's transaction, read per-period totals, project the
invoice, push deltas to Stripe and announce thresholds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validation
from ..catalog.models import BillingMeter
from ..db import on_commit
from ..domain_events import CatalogSynced, EntitlementsChanged, SubscriptionSynced, UsageThresholdReached
from ..errors import InvalidInputError, NotFoundError
from . import alerts, bulk
from . import events as valid
from . import repository as repo
from .events import MAX_VALUE
from .models import BillingUsageEvent, BillingUsageKey, BillingUsageSummary
from .projection import project_invoice
from .reporting import UsageReporter
from .schemas import AGGREGATIONS, AlertThresholds, BulkResult, MeterDef, TrackResult, UsageEvent, UsageSummary

if TYPE_CHECKING:
    from ..context import Context
    from ..entitlements import EntitlementService
    from .schemas import ProjectedInvoice, PushReport, UsageDrift

__all__ = ["MAX_VALUE", "UsageService"]

_CACHE_TTL = 30.0
T = TypeVar("T")


class UsageService:
    """Metered usage. Events are rows in the host's database, written in the host's transaction when a
    ``session`` is passed; their idempotency key is unique forever.

    ``grace``: how long after a period ends its late events are still accepted (default 1 hour, Stripe's
    window before a usage invoice is finalised). ``thresholds``: percentages of the plan's limit at
    which ``usage_threshold_reached`` fires, once per period each."""

    def __init__(self, ctx: Context, *, entitlements: EntitlementService, grace: timedelta = timedelta(hours=1),
                 thresholds: Iterable[int] = (80, 90, 100)) -> None:
        self._ctx = ctx
        self._entitlements = entitlements
        self.grace = grace
        self.thresholds = tuple(sorted(thresholds))
        self._defs: dict[str, MeterDef] = {}
        self._meters: dict[str, tuple[float, MeterDef]] = {}
        self._limits: dict[tuple[str, str], tuple[float, int | None, int]] = {}   # expiry, limit, generation
        self._alerts: dict[tuple[str, str], tuple[float, tuple[int, ...] | None, int]] = {}   # the same
        self._fired: set[tuple[str, str, datetime, int]] = set()
        self._lock = threading.Lock()
        self.reporter = UsageReporter(ctx)
        for event_type in (SubscriptionSynced, CatalogSynced, EntitlementsChanged):   # limits may have moved
            ctx.events.subscribe(event_type, self._forget)
        ctx.tasks.every("usage.push", timedelta(minutes=1), lambda: self.push())
        ctx.tasks.every("usage.partitions", timedelta(hours=24), lambda: self.create_partitions())

    # --- configuration ------------------------------------------------------------------------------
    def configure(self, *, grace: timedelta | None = None, thresholds: Iterable[int] | None = None) -> None:
        """``grace``: from 0 to 30 days (Stripe takes meter events up to 35 days old). ``thresholds``: integer
        percentages from 1 to 1000, e.g. (80, 90, 100). Both are checked before either is applied."""
        if grace is not None:
            validation.timedelta_(grace, "grace", minimum=timedelta(0), maximum=timedelta(days=30))
        values = None
        if thresholds is not None:
            if isinstance(thresholds, str | bytes | Mapping) or not isinstance(thresholds, Iterable):
                raise InvalidInputError("thresholds must be a list of integer percentages from 1 to 1000, e.g. "
                                        f"(80, 90, 100), got {validation.echo(thresholds)}.", param="thresholds")
            listed = list(thresholds)
            if not listed:
                raise InvalidInputError("thresholds must name at least one percentage.", param="thresholds")
            values = tuple(sorted({validation.integer(t, "thresholds", minimum=1, maximum=1000) for t in listed}))
        if grace is not None:
            self.grace = grace
        if values is not None:
            self.thresholds = values

    def define_meter(self, event_name: str, *, aggregation: str, unique_by: str | None = None) -> MeterDef:
        """Aggregate ``event_name`` locally with ``aggregation`` (sum, count, max, unique_count, last).

        A catalog meter aggregates as its Stripe meter does (sum, count or last); define it here to count
        ``max`` or ``unique_count`` locally (push those to a Stripe ``sum`` or ``last`` meter). A meter defined
        only here is tracked and totalled but never pushed to Stripe. ``unique_count`` counts distinct
        values of ``properties[unique_by]``."""
        name = validation.meter_name(event_name, "event_name")
        validation.choice(aggregation, "aggregation", AGGREGATIONS)
        if (aggregation == "unique_count") != (unique_by is not None):
            raise InvalidInputError("unique_by (the property whose distinct values are counted) is required "
                                    "for unique_count meters and only for them.", param="unique_by")
        if unique_by is not None:
            validation.text(unique_by, "unique_by", max_length=100, required=True)
        d = MeterDef(name, aggregation, unique_by)
        self._defs[name] = d
        self._meters.pop(name, None)
        return d

    def meter(self, event_name: str) -> MeterDef:
        """The meter ``event_name`` (catalog or local). Unknown meters raise InvalidInputError."""
        return self._meter(event_name, "event_name")

    def _meter(self, event_name: Any, param: str = "meter") -> MeterDef:
        name = validation.meter_name(event_name, param)
        hit = self._meters.get(name)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self._ctx.session_factory() as session:
            rows = list(session.scalars(select(BillingMeter).where(BillingMeter.event_name == name)
                                        .order_by(BillingMeter.id.desc())))
        row = next((r for r in rows if r.status == "active"), rows[0] if rows else None)
        local = self._defs.get(name)
        if row is None and local is None:
            raise InvalidInputError(f"Unknown meter {name!r}: declare it in the catalog's meters and run "
                                    "billing.catalog.sync(), or define it with billing.usage.define_meter().",
                                    param=param)
        d = MeterDef(name, local.aggregation if local else row.aggregation,  # type: ignore[union-attr]
                     local.unique_by if local else None, row.stripe_id if row else None,
                     row.aggregation if row else None)
        self._meters[name] = (time.monotonic() + _CACHE_TTL, d)
        return d

    # --- writes -------------------------------------------------------------------------------------
    def track(self, owner_id: str, meter: str, value: int, idempotency_key: str, timestamp: datetime | None = None,
              properties: Mapping[str, Any] | None = None, session: Session | None = None) -> TrackResult:
        """Record ``value`` units of ``meter`` for ``owner_id``, once per ``idempotency_key``, forever.

        With ``session`` (the host's SQLAlchemy session) the event commits or rolls back with the host's
        own writes; without it billingos commits it at once. A repeated key writes nothing and returns
        ``duplicate=True``. Bad input raises InvalidInputError and writes nothing."""
        ev, m = self._event(owner_id, meter, value, idempotency_key, timestamp, properties)
        now = self._ctx.now()
        pair = (ev.owner_id, m.event_name)
        limit = self._limits_for({pair})[pair]   # before the write
        own = self._alerts_for({pair})[pair] if limit else None

        def run(s: Session) -> TrackResult:
            period = repo.period_for(s, ev.owner_id, m.event_name, ev.timestamp)
            self._check_grace(ev.timestamp, period, now)
            if not repo.insert_key(s, ev.idempotency_key, ev.timestamp):
                return TrackResult(ev.idempotency_key, True, ev.owner_id, m.event_name, period[0], period[1],
                                   repo.summary_value(s, ev.owner_id, m.event_name, period))
            if m.aggregation == "unique_count":
                repo.lock_summary(s, owner_id=ev.owner_id, meter=m, period=period, now=now)
                add = 0 if repo.unique_seen(s, ev, period) else 1
            else:
                add = 1 if m.aggregation == "count" else ev.value
            repo.insert_event(s, ev, now=now)
            _, total, _ = repo.bump_summary(s, owner_id=ev.owner_id, meter=m, period=period, value=add, events=1,
                                            last_at=ev.timestamp, now=now)
            self._check_thresholds(s, ev.owner_id, m.event_name, period, total, now, limit, own)
            return TrackResult(ev.idempotency_key, False, ev.owner_id, m.event_name, period[0], period[1], total)

        return self._in(session, run)

    def track_many(self, events: Iterable[Mapping[str, Any] | UsageEvent], *,
                   session: Session | None = None) -> BulkResult:
        """Bulk-load events (COPY on PostgreSQL, batched inserts on SQLite). Duplicate keys, within the
        batch or seen before, are dropped. Each event is a mapping with the arguments of ``track``. Any bad
        event raises InvalidInputError (naming its index) and nothing is written."""
        now = self._ctx.now()
        if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
            raise InvalidInputError("events must be a list (or iterable) of mappings of track() arguments.",
                                    param="events")
        events = events if isinstance(events, (list, tuple)) else list(events)    # read twice
        limits = self._limits_for(bulk.named_pairs(events))     # read before the write transaction
        owns = self._alerts_for({pair for pair, limit in limits.items() if limit})

        def late(i: int, ts: datetime, period: tuple[datetime, datetime]) -> None:
            try:
                self._check_grace(ts, period, now)
            except InvalidInputError as e:
                raise InvalidInputError(f"events[{i}]: {e.message}", param=f"events[{i}]") from None

        def run(s: Session) -> BulkResult:
            loaded = bulk.load(s, events, self.meter, now, late)
            groups = list(loaded.groups)
            for owner, m, period in loaded.uniques:
                repo.lock_summary(s, owner_id=owner, meter=m, period=period, now=now)
                agg, n, last_at = repo.recompute(s, owner_id=owner, meter=m, period=period)
                _, total, _ = repo.set_summary(s, owner_id=owner, meter=m, period=period, value=agg, events=n,
                                               last_at=last_at, now=now)
                groups.append((owner, m.event_name, period[0], period[1], total))
            for owner, meter, start, end, total in groups:
                self._check_thresholds(s, owner, meter, (start, end), total, now, limits.get((owner, meter)),
                                       owns.get((owner, meter)))
            return BulkResult(loaded.inserted, loaded.duplicates)

        return self._in(session, run)

    def adjust(self, owner_id: str, meter: str, original_key: str, idempotency_key: str, value: int | None = None,
               session: Session | None = None) -> TrackResult:
        """Correct an event with a negative adjustment that references it (``original_key``).

        On ``sum`` meters ``value`` is the (negative) correction, by default all that is left of the event;
        on other meters the adjustment cancels the event. The adjustment has the original's timestamp, so it
        lands in the same period, and the period must still be open (or within ``grace``)."""
        owner_id = validation.owner_id(owner_id)
        key = valid.idempotency_key(idempotency_key)
        original = valid.idempotency_key(original_key, "original_key")
        if value is not None:
            validation.integer(value, "value", minimum=-MAX_VALUE, maximum=-1)   # the correction: negative
        m = self._meter(meter)
        if value is not None and m.aggregation != "sum":
            raise InvalidInputError(f"meter {m.event_name!r} aggregates by {m.aggregation}: an adjustment "
                                    "cancels the whole event; leave value out.", param="value")
        now = self._ctx.now()

        def run(s: Session) -> TrackResult:
            ts = s.execute(select(BillingUsageKey.timestamp).where(BillingUsageKey.idempotency_key == original)
                           ).scalar()
            e = BillingUsageEvent
            rows = [] if ts is None else s.execute(select(e.idempotency_key, e.adjusts, e.value).where(
                e.owner_id == owner_id, e.meter == m.event_name, e.timestamp == ts)).all()
            orig = next((r for r in rows if r[0] == original), None)
            if orig is None or orig[1] is not None:
                raise NotFoundError(f"No usage event {original!r} of meter {m.event_name!r} for owner "
                                    f"{owner_id!r} to adjust.", param="original_key")
            left = int(orig[2]) + sum(int(r[2]) for r in rows if r[1] == original)
            if m.aggregation != "sum" and any(r[1] == original for r in rows):
                left = 0
            change = value if value is not None else -left
            if left <= 0 or -change > left:
                raise InvalidInputError(f"event {original!r} has {max(left, 0)} left to correct; the adjustment "
                                        f"would take {-change}.", param="value")
            assert ts is not None
            period = repo.period_for(s, owner_id, m.event_name, ts)
            self._check_grace(ts, period, now)
            if not repo.insert_key(s, key, ts):
                return TrackResult(key, True, owner_id, m.event_name, period[0], period[1],
                                   repo.summary_value(s, owner_id, m.event_name, period))
            repo.lock_summary(s, owner_id=owner_id, meter=m, period=period, now=now)
            repo.insert_event(s, UsageEvent(owner_id, m.event_name, change, key, ts), now=now, adjusts=original)
            agg, events, last_at = repo.recompute(s, owner_id=owner_id, meter=m, period=period)
            _, total, _ = repo.set_summary(s, owner_id=owner_id, meter=m, period=period, value=agg, events=events,
                                           last_at=last_at, now=now)
            return TrackResult(key, False, owner_id, m.event_name, period[0], period[1], total)

        return self._in(session, run)

    # --- reads --------------------------------------------------------------------------------------
    def total(self, owner_id: str, meter: str, *, at: datetime | None = None) -> int:
        """The aggregate of ``meter`` for ``owner_id`` over the billing period containing ``at`` (now)."""
        owner_id = validation.owner_id(owner_id)
        when = valid.timestamp(at, self._ctx.now(), future=None, param="at") if at is not None else self._ctx.now()
        m = self._meter(meter)
        with self._ctx.session_factory() as s:
            period = repo.period_for(s, owner_id, m.event_name, when)
            return repo.summary_value(s, owner_id, m.event_name, period)

    def period(self, owner_id: str, meter: str, *, at: datetime | None = None) -> tuple[datetime, datetime]:
        """The billing period (start, end) that an event of ``meter`` at ``at`` (now) counts in."""
        owner_id = validation.owner_id(owner_id)
        when = valid.timestamp(at, self._ctx.now(), future=None, param="at") if at is not None else self._ctx.now()
        m = self._meter(meter)
        with self._ctx.session_factory() as s:
            return repo.period_for(s, owner_id, m.event_name, when)

    def summaries(self, owner_id: str, meter: str | None = None, *, limit: int = 12) -> list[UsageSummary]:
        """Per-period summaries for ``owner_id`` (all meters, or one), newest period first."""
        owner_id = validation.owner_id(owner_id)
        validation.limit(limit, maximum=1000)
        t = BillingUsageSummary
        stmt = select(t).where(t.owner_id == owner_id).order_by(t.period_start.desc(), t.meter).limit(limit)
        if meter is not None:
            stmt = stmt.where(t.meter == self._meter(meter).event_name)
        with self._ctx.session_factory() as s:
            return [UsageSummary.from_row(r) for r in s.scalars(stmt)]

    def projected_invoice(self, owner_id: str) -> ProjectedInvoice:
        """The cost so far this period, and a linear projection to its end (see ``ProjectedInvoice``)."""
        return project_invoice(self._ctx, validation.owner_id(owner_id))

    # --- Stripe -------------------------------------------------------------------------------------
    def push(self, *, limit: int = 500) -> PushReport:
        """Stage changed summaries into the outbox and send due rows to Stripe (the periodic task)."""
        return self.reporter.run(limit=validation.limit(limit, maximum=100_000))

    def reconcile(self, *, owner_id: str | None = None, meter: str | None = None) -> list[UsageDrift]:
        """Compare local totals with Stripe's meter event summaries for the periods still in Stripe's window."""
        if owner_id is not None:
            validation.owner_id(owner_id)
        if meter is not None:
            meter = self._meter(meter).event_name
        return self.reporter.reconcile(owner_id=owner_id, meter=meter)

    def create_partitions(self, months_ahead: int = 2) -> int:
        """PostgreSQL: create the monthly event partitions up to ``months_ahead`` months ahead (daily task)."""
        validation.integer(months_ahead, "months_ahead", minimum=0, maximum=36)
        if self._ctx.dialect != "postgresql":
            return 0
        from sqlalchemy import text
        with self._ctx.transaction() as s:
            return int(s.execute(text("SELECT billingos_usage_create_partitions(:n)"), {"n": months_ahead}).scalar()
                       or 0)

    # --- internals ----------------------------------------------------------------------------------
    def _in(self, session: Session | None, run: Callable[[Session], T]) -> T:
        if session is None:
            with self._ctx.transaction() as s:
                return run(s)
        if not isinstance(session, Session):
            raise InvalidInputError("session must be a SQLAlchemy Session (the host's own).", param="session")
        self._ctx.session_factory     # noqa: B018 - raises BillingClosedError after close(), as the above does
        return run(session)

    def _event(self, owner_id: Any, meter: Any, value: Any, key: Any, timestamp: Any,
               properties: Any) -> tuple[UsageEvent, MeterDef]:
        owner = validation.owner_id(owner_id)
        m = self._meter(meter)
        v = valid.value(value)
        k = valid.idempotency_key(key)
        ts = valid.timestamp(timestamp, self._ctx.now())
        props = valid.properties(properties)
        unique = valid.unique_value(m, props) if m.aggregation == "unique_count" else None
        return UsageEvent(owner, m.event_name, v, k, ts, props, unique), m

    def _check_grace(self, ts: datetime, period: tuple[datetime, datetime], now: datetime) -> None:
        if now >= period[1] + self.grace:
            raise InvalidInputError(
                f"timestamp {ts.isoformat()} is in the billing period that ended {period[1].isoformat()}; late "
                f"events are accepted for {self.grace} after a period ends. Correct past periods with a credit.",
                param="timestamp")

    # --- the customer's own alert thresholds ---------------------------------------------------------
    def set_alert_thresholds(self, owner_id: str, feature: str, thresholds: Iterable[int] | None) -> AlertThresholds:
        """The owner's own alert thresholds for a metered feature, e.g. ``[50, 80]``: integer percentages
        from 1 to 100, at most 5 (repeats dropped, sorted). They replace the configured ``thresholds`` for
        this owner and the feature's meter; ``[]`` turns the alerts off, ``None`` goes back to the
        defaults. Each fires once per billing period, at the next usage past it. InvalidInputError (nothing
        written) for anything else, or a feature that is not a metered one of the catalog."""
        owner = validation.owner_id(owner_id)
        values = None if thresholds is None else alerts.thresholds(thresholds)
        with self._ctx.transaction() as s:
            key = alerts.metered_feature(s, feature)
            if values is None:
                alerts.remove(s, owner, key)
            else:
                alerts.save(s, owner, key, values, self._ctx.now())
            on_commit(s, lambda: self._entitlements.cache.bump([owner]))   # every process re-reads them
        return AlertThresholds(key, self.thresholds if values is None else values, values is not None)

    def alert_thresholds(self, owner_id: str) -> dict[str, AlertThresholds]:
        """Each metered feature the owner has (or set alerts on), by key: the owner's own thresholds or
        the configured defaults (``custom`` tells which)."""
        owner = validation.owner_id(owner_id)
        granted = {g.feature for g in self._entitlements.grants(owner) if g.type == "metered"}
        with self._ctx.session_factory() as s:
            own = alerts.for_owner(s, owner)
        return {key: AlertThresholds(key, own[key], True) if key in own else AlertThresholds(key, self.thresholds,
                                                                                           False)
                for key in sorted(granted | set(own))}

    def _alerts_for(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, ...] | None]:
        """The owners' own thresholds per (owner, meter), cached like the limits (same expiry, same
        invalidation through the entitlement generation, which ``set_alert_thresholds`` bumps)."""
        out: dict[tuple[str, str], tuple[int, ...] | None] = {}
        missing: set[tuple[str, str]] = set()
        clock, generation = time.monotonic(), self._entitlements.generation
        for pair in pairs:
            hit = self._alerts.get(pair)
            if hit is not None and hit[0] > clock and hit[2] == generation(pair[0]):
                out[pair] = hit[1]
            else:
                missing.add(pair)
        if missing:
            seen = {owner: generation(owner) for owner, _ in missing}
            with self._ctx.session_factory() as s:
                found = alerts.for_pairs(s, missing)
            expires = time.monotonic() + _CACHE_TTL
            for pair, own in found.items():
                self._alerts[pair] = (expires, own, seen[pair[0]])
            out.update(found)
        return out

    # --- thresholds ---------------------------------------------------------------------------------
    def limit_for(self, owner_id: str, meter: str) -> int | None:
        """The owner's limit for ``meter`` (``billing.entitlements.limit_for``: plan or override, plus
        rollover; the largest if several features count this meter). None: no limit (or unlimited)."""
        pair = (validation.owner_id(owner_id), validation.meter_name(meter))
        return self._limits_for({pair})[pair]

    def limits_for(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """``limit_for`` for many (owner, meter) pairs at once. Cached per process for 30 s at most, and
        dropped as soon as the owner's entitlements change, in this process or (through Redis) another."""
        return self._limits_for(validation.owner_meter_pairs(pairs))

    def _limits_for(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        out: dict[tuple[str, str], int | None] = {}
        missing: set[tuple[str, str]] = set()
        clock = time.monotonic()
        generation = self._entitlements.generation
        for pair in pairs:
            hit = self._limits.get(pair)
            if hit is not None and hit[0] > clock and hit[2] == generation(pair[0]):
                out[pair] = hit[1]
            else:
                missing.add(pair)
        if missing:
            seen = {owner: generation(owner) for owner, _ in missing}     # before the read: a change during it
            found = self._entitlements.limits_for(missing)      # leaves the entry stale, not trusted
            expires = time.monotonic() + _CACHE_TTL
            for pair, limit in found.items():
                self._limits[pair] = (expires, limit, seen[pair[0]])
            out.update(found)
        return out

    def _forget(self, _: object) -> None:
        self._limits.clear()
        self._alerts.clear()
        self._meters.clear()

    def _check_thresholds(self, s: Session, owner_id: str, meter: str, period: tuple[datetime, datetime],
                          used: int, now: datetime, limit: int | None, own: tuple[int, ...] | None = None) -> None:
        if limit is None or limit <= 0:
            return
        for pct in self.thresholds if own is None else own:
            if used * 100 < pct * limit:
                break
            memo = (owner_id, meter, period[0], pct)
            if memo in self._fired:
                continue
            if not repo.announce_threshold(s, owner_id=owner_id, meter=meter, period=period, threshold=pct,
                                           limit=limit, used=used, now=now):
                with self._lock:
                    self._fired.add(memo)
                continue

            def fired(memo: tuple[str, str, datetime, int] = memo) -> None:
                with self._lock:
                    self._fired.add(memo)
            on_commit(s, fired)
            self._ctx.events.publish(s, UsageThresholdReached(owner_id, meter, pct, limit, used, period[0], period[1]))
