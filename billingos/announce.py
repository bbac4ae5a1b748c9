"""The public blinker signals, built on the domain events: one after-commit subscriber per event.

Which lifecycle signals a subscription sync implies is derived from the stored state before and after,
so a duplicate or replayed event (no change) implies none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import signals
from .domain_events import (
    CancellationRequested,
    CatalogSynced,
    ChurnRiskDetected,
    CustomerErased,
    CustomerLinked,
    CustomerSynced,
    DunningExhausted,
    EntitlementsChanged,
    InvoiceSynced,
    PaymentFailed,
    PaymentRecovered,
    PaymentRetryScheduled,
    PaymentSucceeded,
    ReconciliationFixed,
    ScheduledChangeMoved,
    SubscriptionSynced,
    TrialWillEnd,
    UpgradeOpportunityDetected,
    UsageThresholdReached,
    WebhookDeadLettered,
)

if TYPE_CHECKING:
    from .bus import EventBus
    from .customers.schemas import Customer
    from .subscriptions.schemas import Subscription

__all__ = ["announce_signals", "subscription_transitions"]

#: Subscription fields whose change fires ``subscription_updated``.
TRACKED = ("status", "items", "cancel_at_period_end", "cancel_at", "current_period_start", "current_period_end",
           "trial_end", "paused", "canceled_at", "ended_at", "metadata", "latest_invoice", "scheduled_change")


def announce_signals(bus: EventBus, sender: object) -> None:
    """Send each public signal, with ``sender`` as the sender, after the commit that made it true."""
    def on(event_type: type[Any], fn: Callable[[Any], Any]) -> None:
        bus.subscribe(event_type, fn)

    on(CustomerSynced, lambda e: _customer(sender, e.before, e.after))
    on(CustomerLinked, lambda e: signals.customer_linked.send(sender, customer=e.after, owner_id=e.after.owner_id,
                                                              previous_owner_id=e.previous_owner))
    on(CustomerErased, lambda e: signals.customer_erased.send(sender, owner_id=e.owner_id, customer_id=e.customer_id,
                                                              deleted_in_stripe=e.deleted_in_stripe))
    on(SubscriptionSynced, lambda e: [signal.send(sender, subscription=e.after, **kw)
                                      for signal, kw in subscription_transitions(e.before, e.after)])
    on(CancellationRequested, lambda e: signals.subscription_cancel_requested.send(
        sender, subscription=e.subscription, feedback=e.feedback, comment=e.comment, at_period_end=e.at_period_end))
    on(ScheduledChangeMoved, lambda e: signals.subscription_updated.send(
        sender, subscription=e.subscription, changed={"scheduled_change"}))
    on(TrialWillEnd, lambda e: signals.trial_will_end.send(sender, subscription=e.subscription,
                                                           trial_end=e.trial_end))
    on(InvoiceSynced, lambda e: e.after.status == "paid" and e.before_status != "paid"
       and signals.invoice_paid.send(sender, invoice=e.after))
    on(PaymentFailed, lambda e: signals.payment_failed.send(
        sender, invoice=e.invoice, attempt_count=e.attempt_count, next_payment_attempt=e.next_payment_attempt))
    on(PaymentSucceeded, lambda e: signals.payment_succeeded.send(sender, invoice=e.invoice))
    on(PaymentRetryScheduled, lambda e: signals.payment_retry_scheduled.send(
        sender, case=e.case, retry=e.retry, retry_at=e.retry_at))
    on(PaymentRecovered, lambda e: signals.payment_recovered.send(sender, case=e.case))
    on(DunningExhausted, lambda e: signals.dunning_exhausted.send(sender, case=e.case, outcome=e.outcome))
    on(EntitlementsChanged, lambda e: _entitlements(sender, e))
    on(CatalogSynced, lambda e: e.report is not None and signals.catalog_synced.send(sender, report=e.report))
    on(UsageThresholdReached, lambda e: signals.usage_threshold_reached.send(
        sender, owner_id=e.owner_id, meter=e.meter, threshold=e.threshold, limit=e.limit, used=e.used,
        period_start=e.period_start, period_end=e.period_end))
    on(WebhookDeadLettered, lambda e: signals.webhook_dead_lettered.send(sender, event=e.event))
    on(ReconciliationFixed, lambda e: signals.reconciliation_fixed.send(sender, report=e.report))
    on(ChurnRiskDetected, lambda e: signals.churn_risk_detected.send(
        sender, owner_id=e.owner_id, score=e.score, threshold=e.threshold, reasons=list(e.reasons),
        insight_id=e.insight_id))
    on(UpgradeOpportunityDetected, lambda e: signals.upgrade_opportunity_detected.send(
        sender, owner_id=e.owner_id, suggestion=e.suggestion, insight_id=e.insight_id))


def _customer(sender: object, before: Customer | None, after: Customer) -> None:
    if before is None:
        signals.customer_created.send(sender, customer=after, owner_id=after.owner_id)
        return
    changed = {f for f in type(after).model_fields if getattr(before, f) != getattr(after, f)}
    if changed:
        signals.customer_updated.send(sender, customer=after, changed=changed)


def _entitlements(sender: object, e: EntitlementsChanged) -> None:
    for key, source in e.granted.items():
        signals.entitlement_granted.send(sender, owner_id=e.owner_id, feature=key, source=source)
    for key, why in e.revoked.items():
        signals.entitlement_revoked.send(sender, owner_id=e.owner_id, feature=key, reason=why)


def subscription_transitions(before: Subscription | None,
                             after: Subscription) -> list[tuple[Any, dict[str, Any]]]:
    """The lifecycle signals (with their extra kwargs) that going from ``before`` to ``after`` implies."""
    out: list[tuple[Any, dict[str, Any]]] = []
    if before is None:
        out.append((signals.subscription_created, {}))
    prev = before.status if before else None
    if after.status != prev:
        if after.status == "active":
            out.append((signals.subscription_activated, {"previous_status": prev}))
        elif after.status == "canceled":
            out.append((signals.subscription_canceled, {}))
        elif after.status == "past_due":
            out.append((signals.subscription_past_due, {}))
    was_paused = bool(before and before.paused)
    if after.paused and not was_paused:
        out.append((signals.subscription_paused, {}))
    elif was_paused and not after.paused and after.status != "canceled":
        out.append((signals.subscription_resumed, {}))
    if (before is not None and after.status == "active" and before.current_period_start is not None
            and after.current_period_start is not None and after.current_period_start > before.current_period_start):
        out.append((signals.subscription_renewed, {"period_start": after.current_period_start,
                                                   "period_end": after.current_period_end}))
    if before is not None:
        changed = {f for f in TRACKED if getattr(before, f) != getattr(after, f)}
        if changed:
            out.append((signals.subscription_updated, {"changed": changed}))
    return out
