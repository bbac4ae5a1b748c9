"""``billing.insights``: churn prediction, upgrade nudges and the alerts store.

- ``train_churn_model()`` compares logistic regression and gradient boosting on a time split, keeps the better
  one (calibrated) as a new model version in the database and returns its ``ChurnReport``.
- ``score_churn()`` (daily, on the job primitive) scores every paying customer with the newest model; a
  risk crossing ``threshold`` opens an episode: a ``churn_risk`` insight and ``churn_risk_detected``, once.
- ``check_upgrades()`` (daily, and when usage reaches 90% of a limit) records ``upgrade_opportunity``
  insights with the suggested plan and the money, once per billing period.
- ``alerts()`` lists insights (also ``payment_failed`` and ``usage_limit`` ones, recorded from the domain
  events); ``mark_read``, ``dismiss``, ``act`` record who and when; ``export_csv`` writes them out.
"""

from __future__ import annotations

import builtins
import contextlib
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import validation
from ..actor import Actor
from ..analytics.models import BillingLedgerEntry
from ..customers.schemas import Page
from ..domain_events import DunningExhausted, PaymentFailed, UpgradeOpportunityDetected, UsageThresholdReached
from ..errors import ConfigurationError, InsufficientDataError, InvalidInputError, NotFoundError
from ..subscriptions.models import BillingSubscription
from . import model as ml
from . import nudges
from .alerts import AlertStore
from .features import BUILT_IN, HORIZON, Extractor, Signal
from .models import BillingChurnModel, BillingChurnScore, BillingChurnScoreHistory
from .schemas import ChurnReport, ChurnScore, Insight, UpgradeSuggestion
from .scoring import ScoreRun, score_rows, store

if TYPE_CHECKING:
    from ..context import Context

__all__ = ["InsightService"]

_SIGNAL_NAME = r"[a-z][a-z0-9_]{0,39}"


class InsightService:
    def __init__(self, ctx: Context, *, threshold: float = 0.7, seat_feature: str = "seats") -> None:
        self._ctx = ctx
        self.threshold = threshold
        self.seat_feature = seat_feature
        self._signals: dict[str, Signal] = {}
        self.store = AlertStore(ctx)
        ctx.events.subscribe_in_transaction(PaymentFailed, self._payment_failed)
        ctx.events.subscribe_in_transaction(UsageThresholdReached, self._usage_limit)
        ctx.events.subscribe_in_transaction(DunningExhausted, self._cancellation_survey)
        ctx.jobs.define("insights.daily", self._daily_job, max_attempts=3, base_delay=timedelta(minutes=10))
        ctx.jobs.define("insights.nudge", self._nudge_job, max_attempts=5)
        ctx.tasks.every("insights.daily", timedelta(hours=24), self.enqueue_daily)

    # --- configuration ----------------------------------------------------------------------------
    def configure(self, *, threshold: float | None = None, seat_feature: str | None = None) -> None:
        """``threshold``: the calibrated risk (0-1, exclusive) at which a churn-risk episode opens (0.7).
        ``seat_feature``: the plan feature whose limit is a plan's seat count ("seats")."""
        if threshold is not None:
            validation.seconds(threshold, "threshold", minimum=0, maximum=1, open_minimum=True)
            if threshold >= 1:
                raise InvalidInputError("threshold must be below 1.", param="threshold")
        if seat_feature is not None:
            validation.meter_name(seat_feature, "seat_feature")
        self.threshold = float(threshold) if threshold is not None else self.threshold
        self.seat_feature = seat_feature or self.seat_feature

    def add_signal(self, name: str, fn: Signal) -> None:
        """A host-supplied churn feature (logins, support tickets...): ``fn(owner_ids, at)`` returns
        ``{owner_id: number}`` as known at ``at`` (never later: that would leak the future into training).
        Owners left out count as 0. Train again after adding one; scoring refuses a model trained without it."""
        if not isinstance(name, str) or not re.fullmatch(_SIGNAL_NAME, name) or name in BUILT_IN:
            raise InvalidInputError(f"name must be a new lower_snake_case feature name, got {validation.echo(name)}.",
                                    param="name")
        self._signals[name] = validation.callable_(fn, "fn")

    # --- churn ------------------------------------------------------------------------------------
    def train_churn_model(self, *, start: datetime | None = None, end: datetime | None = None,
                          every: timedelta = timedelta(days=7), min_customers: int = 50,
                          min_churn_events: int = 20, seed: int = 0) -> ChurnReport:
        """Train on snapshots every ``every`` from ``start`` (default: 30 days after the first ledger
        entry) to ``end`` (default: 30 days ago, the last date whose outcome is known). Raises
        InsufficientDataError below ``min_customers`` customers or ``min_churn_events`` churn events."""
        validation.integer(seed, "seed", minimum=0, maximum=2**32 - 1)
        snaps = self._snapshots(start=start, end=end, every=every, min_customers=min_customers,
                                min_churn_events=min_churn_events)
        fitted, report = ml.evaluate(snaps, min_customers=min_customers, min_churn_events=min_churn_events,
                                     seed=seed)
        now = self._ctx.now()
        with self._ctx.transaction() as s:
            row = BillingChurnModel(created_at=now, algorithm=fitted.algorithm, feature_names=fitted.names,
                                    report=report, artifact=ml.dump(fitted), active=True)
            s.add(row)
            s.flush()
            version = row.id
        return ChurnReport(version=version, created_at=now, **_report_fields(report))

    def _snapshots(self, *, start: Any, end: Any, every: Any, min_customers: Any, min_churn_events: Any) -> list[Any]:
        validation.timedelta_(every, "every", minimum=timedelta(days=1), maximum=timedelta(days=90))
        validation.integer(min_customers, "min_customers", minimum=1, maximum=10**9)
        validation.integer(min_churn_events, "min_churn_events", minimum=1, maximum=10**9)
        if start is not None:
            validation.aware_datetime(start, "start")
        now = self._ctx.now()
        end = validation.aware_datetime(end, "end") if end is not None else now - HORIZON
        if end > now - HORIZON:
            raise InvalidInputError("end must be at least 30 days ago: later snapshots have no known outcome yet.",
                                    param="end")
        with self._ctx.session_factory() as s:
            first = s.scalar(select(func.min(BillingLedgerEntry.effective_at)))
            if start is None:
                start = (first or now) + HORIZON
            if start >= end:
                raise InsufficientDataError(f"No snapshot fits between {start:%Y-%m-%d} and {end:%Y-%m-%d}: there is "
                                      "too little history (snapshots need 30 days before and after them).")
            ex = Extractor(s, signals=self._signals)
            history = ex.history(now)
            dates, at = [], end
            while at >= start:
                dates.append(at)
                at -= every
            return [ex.snapshot(history, d, labelled=True) for d in sorted(dates)]

    def report(self, version: int | None = None) -> ChurnReport:
        """The stored report of model ``version`` (default: the newest)."""
        row = self._model_row(version)
        return ChurnReport(version=row.id, created_at=row.created_at, **_report_fields(row.report))

    def reports(self, *, limit: int = 20) -> builtins.list[ChurnReport]:
        """The stored reports of the newest ``limit`` model versions, newest first (empty before training)."""
        validation.limit(limit, maximum=1000)
        t = BillingChurnModel
        with self._ctx.session_factory() as s:
            rows = s.execute(select(t.id, t.created_at, t.report).order_by(t.id.desc()).limit(limit)).all()
        return [ChurnReport(version=r.id, created_at=r.created_at, **_report_fields(r.report)) for r in rows]

    def _model_row(self, version: int | None) -> BillingChurnModel:
        t = BillingChurnModel
        stmt = select(t).where(t.active.is_(True)).order_by(t.id.desc())
        if version is not None:
            stmt = select(t).where(t.id == validation.integer(version, "version", minimum=1, maximum=2**63 - 1))
        with self._ctx.session_factory() as s:
            row = s.scalars(stmt.limit(1)).first()
        if row is None:
            if version is not None:
                raise NotFoundError(f"No churn model version {version}.", param="version")
            raise NotFoundError("No churn model yet: run billing.insights.train_churn_model() "
                                "(or `billingos insights evaluate`).")
        return row

    def score_churn(self, *, owner_ids: builtins.list[str] | None = None) -> ScoreRun:
        """Score every paying customer now (or just ``owner_ids``) with the newest model and store each score
        with its top reasons in words. The daily job calls this."""
        wanted = None if owner_ids is None else [validation.owner_id(o) for o in validation.keys(owner_ids,
                                                                                                 "owner_ids")]
        row = self._model_row(None)
        fitted = ml.load(row.artifact)
        now = self._ctx.now()
        with self._ctx.session_factory() as s:
            ex = Extractor(s, signals=self._signals)
            if ex.names != fitted.names:
                raise ConfigurationError(f"Churn model v{row.id} was trained on features {fitted.names}; this Billing "
                                         f"has {ex.names}. Register the same host signals or train again.")
            history = ex.history(now)
            if wanted is not None:
                wanted = [o for o in wanted if o in history.owners and history.owners[o].at(now)[0] > 0]
            snap = ex.snapshot(history, now, labelled=False, owners=wanted)
        risk, words = score_rows(snap, fitted, threshold=self.threshold)
        with self._ctx.transaction() as s:
            return store(s, snap, risk, words, version=row.id, threshold=self.threshold, record=self._record_risk,
                         publish=self._ctx.events.publish)

    def _record_risk(self, s: Session, found: builtins.list[tuple[str, float, builtins.list[str]]]
                     ) -> builtins.list[int | None]:
        """One ``churn_risk`` insight per newly detected owner, in one statement per batch."""
        at = self._ctx.now().isoformat()
        return self.store.record_many(s, [
            {"kind": "churn_risk", "owner_id": owner, "dedupe_key": f"churn_risk:{owner}:{at}",
             "message": f"Churn risk {score:.0%}: {'; '.join(words) or 'several signals together'}.",
             "data": {"score": score, "threshold": self.threshold, "reasons": words}}
            for owner, score, words in found])

    def risk(self, owner_id: str) -> ChurnScore | None:
        """The owner's latest churn score, or None when it was never scored."""
        owner = validation.owner_id(owner_id)
        with self._ctx.session_factory() as s:
            row = s.get(BillingChurnScore, owner)
            return None if row is None else ChurnScore.from_row(row)

    def risk_history(self, owner_id: str, *, limit: int = 30) -> builtins.list[tuple[datetime, float]]:
        """The owner's last ``limit`` scores as ``(scored_at, score)``, oldest first: the trend (kept 180 days)."""
        owner = validation.owner_id(owner_id)
        validation.limit(limit, maximum=1000)
        t = BillingChurnScoreHistory
        with self._ctx.session_factory() as s:
            rows = s.execute(select(t.scored_at, t.score).where(t.owner_id == owner)
                             .order_by(t.scored_at.desc()).limit(limit)).all()
        return [(r.scored_at, float(r.score)) for r in reversed(rows)]

    def at_risk(self, *, limit: int = 50) -> builtins.list[ChurnScore]:
        """The riskiest customers by their latest score, highest first."""
        validation.limit(limit, maximum=10_000)
        t = BillingChurnScore
        with self._ctx.session_factory() as s:
            return [ChurnScore.from_row(r) for r in s.scalars(select(t).order_by(t.score.desc(), t.owner_id)
                                                               .limit(limit))]

    # --- upgrade nudges -----------------------------------------------------------------------------
    def suggest_upgrade(self, owner_id: str) -> UpgradeSuggestion | None:
        """The upgrade that would serve ``owner_id`` now, without recording it."""
        owner = validation.owner_id(owner_id)
        with self._ctx.session_factory() as s:
            return nudges.suggest(s, owner, now=self._ctx.now(), seat_feature=self.seat_feature)

    def check_upgrades(self, *, owner_ids: builtins.list[str] | None = None) -> builtins.list[Insight]:
        """Record an ``upgrade_opportunity`` insight (and fire ``upgrade_opportunity_detected``) for every
        customer with a live subscription that should upgrade, once per billing period. Returns the new ones."""
        if owner_ids is None:
            t = BillingSubscription
            with self._ctx.session_factory() as s:
                owners = sorted({o for o in s.scalars(select(t.owner_id).where(t.status.in_(nudges.LIVE)))
                                 if o is not None})
        else:
            owners = [validation.owner_id(o) for o in validation.keys(owner_ids, "owner_ids")]
        out = []
        for owner in owners:
            with self._ctx.transaction() as s:
                sg = nudges.suggest(s, owner, now=self._ctx.now(), seat_feature=self.seat_feature)
                if sg is None:
                    continue
                insight = self.store.record(s, kind="upgrade_opportunity", owner_id=owner,
                                            dedupe_key=f"upgrade:{owner}:{sg.period_start.isoformat()}",
                                            message=nudges.message(sg), data=sg.as_data())
                if insight is not None:
                    self._ctx.events.publish(s, UpgradeOpportunityDetected(owner, sg, insight))
                    out.append(insight)
        return [self.store.get(i) for i in out]

    # --- the alerts store ----------------------------------------------------------------------------
    def alerts(self, *, kind: str | None = None, owner_id: str | None = None, state: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int = 50,
               after: str | None = None) -> Page[Insight]:
        """Insights newest first, filtered by ``kind`` (churn_risk, payment_failed, usage_limit,
        upgrade_opportunity, cancellation_survey), owner, ``state`` (new, read, dismissed, acted) and creation
        time. Keyset pages: pass ``next_cursor`` as ``after``."""
        return self.store.list(kind=kind, owner_id=owner_id, state=state, since=since, until=until, limit=limit,
                               after=after)

    def get(self, insight_id: int) -> Insight:
        return self.store.get(insight_id)

    def unread_count(self, *, kind: str | None = None) -> int:
        """How many insights nobody has read yet (the admin bell)."""
        return self.store.unread(kind=kind)

    def mark_read(self, insight_id: int, *, by: str, actor: Actor | None = None) -> Insight:
        """Record that ``by`` read the insight (``actor``: who the audit log names; default the system)."""
        return self.store.mark(insight_id, "read", by=by, actor=actor)

    def dismiss(self, insight_id: int, *, by: str, note: str | None = None, actor: Actor | None = None) -> Insight:
        return self.store.mark(insight_id, "dismissed", by=by, note=note, actor=actor)

    def act(self, insight_id: int, *, by: str, note: str | None = None, actor: Actor | None = None) -> Insight:
        """Record that ``by`` acted on the insight (called the customer, offered a discount...)."""
        return self.store.mark(insight_id, "acted", by=by, note=note, actor=actor)

    def export_csv(self, *, kind: str | None = None, owner_id: str | None = None, state: str | None = None,
                   since: datetime | None = None, until: datetime | None = None) -> str:
        return self.store.export_csv(kind=kind, owner_id=owner_id, state=state, since=since, until=until)

    # --- the daily job and the event reactions ------------------------------------------------------
    def enqueue_daily(self) -> bool:
        """Periodic: enqueue today's scoring and nudge run once (the job key is the date)."""
        with self._ctx.transaction() as s:
            return self._ctx.jobs.enqueue(s, "insights.daily", key=f"daily:{self._ctx.now():%Y-%m-%d}")

    def _daily_job(self, jobs: builtins.list[Any]) -> None:
        with contextlib.suppress(NotFoundError):     # no model trained yet: nudges still run
            self.score_churn()
        self.check_upgrades()

    def _payment_failed(self, s: Session, e: PaymentFailed) -> None:
        inv = e.invoice
        if inv.owner_id is None:
            return
        when = f"; next attempt {e.next_payment_attempt:%Y-%m-%d}" if e.next_payment_attempt else ""
        self.store.record(s, kind="payment_failed", owner_id=inv.owner_id,
                          dedupe_key=f"payment_failed:{inv.id}:{e.attempt_count}",
                          message=f"Payment of {inv.amount_due / 100:,.2f} {inv.currency.upper()} failed "
                                  f"(attempt {e.attempt_count}){when}.",
                          data={"invoice": inv.id, "amount_due": inv.amount_due, "currency": inv.currency,
                                "attempt_count": e.attempt_count,
                                "next_payment_attempt": e.next_payment_attempt.isoformat()
                                if e.next_payment_attempt else None})

    def _cancellation_survey(self, s: Session, e: DunningExhausted) -> None:
        """Dunning canceled a subscription: ask the customer why (an involuntary churn worth a call)."""
        case = e.case
        if e.outcome != "canceled" or case.owner_id is None:
            return
        self.store.record(s, kind="cancellation_survey", owner_id=case.owner_id,
                          dedupe_key=f"cancellation_survey:{case.invoice_id}",
                          message=f"Subscription {case.subscription_id} was canceled after {case.retries_done} failed "
                                  f"payment retries ({case.amount_due / 100:,.2f} {case.currency.upper()} unpaid): "
                                  "ask the customer why and whether a new card would bring them back.",
                          data={"subscription": case.subscription_id, "invoice": case.invoice_id,
                                "amount_due": case.amount_due, "currency": case.currency,
                                "retries_done": case.retries_done, "last_decline_code": case.last_decline_code})

    def _usage_limit(self, s: Session, e: UsageThresholdReached) -> None:
        if e.threshold >= nudges.UPGRADE_AT * 100:      # look for an upgrade after the commit, durably
            self._ctx.jobs.enqueue(s, "insights.nudge", key=f"{e.owner_id}:{e.period_start.isoformat()}",
                                   payload={"owner_id": e.owner_id})
        self.store.record(s, kind="usage_limit", owner_id=e.owner_id,
                          dedupe_key=f"usage_limit:{e.owner_id}:{e.meter}:{e.period_start.isoformat()}:{e.threshold}",
                          message=f"{e.meter} reached {e.threshold}% of its limit ({e.used:,} of {e.limit:,}).",
                          data={"meter": e.meter, "threshold": e.threshold, "limit": e.limit, "used": e.used,
                                "period_start": e.period_start.isoformat(), "period_end": e.period_end.isoformat()})

    def _nudge_job(self, jobs: builtins.list[Any]) -> None:
        self.check_upgrades(owner_ids=sorted({j.payload["owner_id"] for j in jobs}))


def _report_fields(report: dict[str, Any]) -> dict[str, Any]:
    keep = set(ChurnReport.model_fields) - {"version", "created_at"}
    return {k: v for k, v in report.items() if k in keep}
