"""Data-subject requests: ``customers.export_personal_data(owner_id)`` and ``customers.erase(owner_id)``.

The export reads every billingos table for the owner (by owner id, and by the Stripe ids of the owner's
customer, subscriptions, invoices and cards) into one JSON-ready dict. The erasure pseudonymises the same
rows in one transaction: personal fields emptied (``redact.py``), free text that quoted the person
cleared, financial facts (amounts, dates, statuses, the MRR ledger) kept, as tax law requires. The customer
row is marked ``erased_at``, so the mirror never writes the person back (``sync_customer``). See
docs/personal-data.md.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from .. import validation
from ..actor import parse_actor
from ..analytics.models import BillingLedgerEntry
from ..api_keys.models import BillingApiKey
from ..audit.models import BillingAuditEvent
from ..audit.schemas import AuditEvent
from ..domain_events import CustomerErased
from ..dunning.models import BillingDunningCase
from ..entitlements.models import BillingEntitlement
from ..errors import NotFoundError
from ..freshness import lock_object
from ..insights.models import BillingChurnScore, BillingChurnScoreHistory, BillingInsight
from ..invoices.models import BillingInvoice
from ..jobs.models import BillingJob
from ..notifications.service import QUEUE as NOTIFICATIONS
from ..payment_methods.models import BillingPaymentMethod
from ..stripe_api import call_stripe
from ..subscriptions.models import BillingCancellationFeedback, BillingSubscription, BillingSubscriptionItem
from ..usage.models import BillingUsageAlert, BillingUsageEvent, BillingUsageSummary
from ..webhooks.models import BillingWebhookEvent
from .models import BillingCustomer
from .redact import REDACTED, needles, personal_strings, pseudonym, redact, redact_text
from .schemas import Customer, Erasure

if TYPE_CHECKING:
    from ..actor import Actor
    from ..context import Context

__all__ = ["PersonalData", "forget_events"]

#: Audit ``before``/``after`` keys that hold free text someone typed about the owner.
_FREE_TEXT = ("note", "reason", "comment")


class PersonalData:
    """The two calls of a data-subject request; ``billing.customers`` delegates to it."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    # --- access (GDPR art. 15, 20) --------------------------------------------------------------
    def export(self, owner_id: str) -> dict[str, Any]:
        owner = validation.owner_id(owner_id)
        with self._ctx.session_factory() as s:
            row = _customer(s, owner)
            ids = _Ids.read(s, owner, row)
            subs = list(s.scalars(select(BillingSubscription).where(ids.subscription_filter())
                                  .order_by(BillingSubscription.id)))
            items = _items(s, [x.id for x in subs])
            return {
                "owner_id": owner,
                "exported_at": _json(self._ctx.now()),
                "customer": _customer_export(row),
                "subscriptions": [{**_cols(x, "stripe_id", "status", "currency", "collection_method",
                                           "cancel_at_period_end", "cancel_at", "canceled_at", "ended_at",
                                           "trial_start", "trial_end", "current_period_start", "current_period_end",
                                           "paused", "stripe_created"), "metadata": x.stripe_metadata,
                                   "items": items.get(x.id, [])} for x in subs],
                "invoices": [{**_cols(x, "stripe_id", "number", "status", "currency", "subtotal", "tax", "total",
                                      "amount_due", "amount_paid", "amount_remaining", "period_start", "period_end",
                                      "paid_at", "stripe_created", "hosted_invoice_url"),
                              **{k: (x.data or {}).get(k) for k in ("customer_email", "customer_name",
                                                                    "customer_address", "customer_phone")}}
                             for x in s.scalars(select(BillingInvoice).where(ids.invoice_filter())
                                                .order_by(BillingInvoice.id))],
                "payment_methods": [_cols(x, "stripe_id", "type", "brand", "last4", "exp_month", "exp_year",
                                          "detached", "stripe_created")
                                    for x in s.scalars(select(BillingPaymentMethod).where(ids.card_filter())
                                                       .order_by(BillingPaymentMethod.id))],
                "usage": {
                    "summaries": [_cols(x, "meter", "period_start", "period_end", "aggregation", "value", "events")
                                  for x in s.scalars(select(BillingUsageSummary).where(
                                      BillingUsageSummary.owner_id == owner).order_by(BillingUsageSummary.id))],
                    "events": [_cols(x, "meter", "timestamp", "value", "idempotency_key", "properties")
                               for x in s.scalars(select(BillingUsageEvent).where(BillingUsageEvent.owner_id == owner)
                                                  .order_by(BillingUsageEvent.timestamp))],
                    "alert_thresholds": [_cols(x, "feature", "thresholds") for x in s.scalars(
                        select(BillingUsageAlert).where(BillingUsageAlert.owner_id == owner))],
                },
                "entitlements": [_cols(x, "feature_key", "source", "limit_value", "reason", "expires_at",
                                       "created_at") for x in s.scalars(select(BillingEntitlement).where(
                                           BillingEntitlement.owner_id == owner).order_by(BillingEntitlement.id))],
                "dunning_cases": [_cols(x, "invoice_stripe_id", "status", "outcome", "amount_due", "currency",
                                        "retries_done", "first_failed_at", "closed_at")
                                  for x in s.scalars(select(BillingDunningCase).where(ids.dunning_filter()))],
                "mrr_history": [_cols(x, "subscription_stripe_id", "effective_at", "mrr_before", "mrr_after",
                                      "currency", "status_before", "status_after", "cause")
                                for x in s.scalars(select(BillingLedgerEntry).where(ids.ledger_filter())
                                                   .order_by(BillingLedgerEntry.id))],
                "cancellation_feedback": [_cols(x, "subscription_stripe_id", "feedback", "comment", "at_period_end",
                                                "created_at")
                                          for x in s.scalars(select(BillingCancellationFeedback).where(
                                              ids.feedback_filter()).order_by(BillingCancellationFeedback.id))],
                "notifications": [{"template": (j.payload or {}).get("template"), "to": (j.payload or {}).get("to"),
                                   **_cols(j, "status", "created_at", "finished_at")}
                                  for j in _notifications(s, _needles(s, row, ids))],
                "insights": [_cols(x, "kind", "message", "state", "created_at", "note")
                             for x in s.scalars(select(BillingInsight).where(BillingInsight.owner_id == owner)
                                                .order_by(BillingInsight.id))],
                "churn_scores": {
                    "current": [_cols(x, "score", "scored_at", "reasons", "model_version") for x in s.scalars(
                        select(BillingChurnScore).where(BillingChurnScore.owner_id == owner))],
                    "history": [_cols(x, "score", "scored_at", "model_version") for x in s.scalars(
                        select(BillingChurnScoreHistory).where(BillingChurnScoreHistory.owner_id == owner)
                        .order_by(BillingChurnScoreHistory.scored_at))],
                },
                "api_keys": [_cols(x, "key_id", "name", "scopes", "created_at", "last_used_at", "revoked_at")
                             for x in s.scalars(select(BillingApiKey).where(BillingApiKey.owner_id == owner))],
                "audit_log": [AuditEvent.from_row(x).model_dump(mode="json")
                              for x in s.scalars(select(BillingAuditEvent).where(_audit_filter(owner, row))
                                                 .order_by(BillingAuditEvent.id))],
            }

    # --- erasure (GDPR art. 17) -----------------------------------------------------------------
    def erase(self, owner_id: str, *, actor: Actor | None = None, delete_in_stripe: bool = False) -> Erasure:
        owner = validation.owner_id(owner_id)
        who = parse_actor(actor)
        delete_in_stripe = validation.boolean(delete_in_stripe, "delete_in_stripe")
        with self._ctx.session_factory() as s:
            row = _customer(s, owner)
            customer_id, already = row.stripe_id, row.erased_at is not None
        deleted = False
        if delete_in_stripe:        # Stripe first: a failure there leaves everything here as it was
            try:
                call_stripe(self._ctx.stripe.v1.customers.delete, customer_id)
                deleted = True
            except NotFoundError:   # deleted already (an earlier erasure, or the dashboard)
                deleted = True
        with self._ctx.transaction() as s:
            lock_object(s, customer_id)     # a webhook applying this customer now waits, then sees erased_at
            row = _customer(s, owner)
            counts = _erase(s, owner, row, self._ctx.now(), deleted)
            if not already:
                self._ctx.events.publish(s, CustomerErased(who, owner, customer_id, deleted))
        return Erasure(owner_id=owner, customer_id=customer_id, already_erased=already,
                       deleted_in_stripe=deleted, rows=counts)


def forget_events(session: Session, customer_id: str) -> None:
    """The stored webhook payloads about an erased customer, redacted (a late ``customer.updated`` carries
    Stripe's copy of the email): called by the customer mirror for erased customers only."""
    _redact_column(session, BillingWebhookEvent, BillingWebhookEvent.object_id == customer_id, "payload", ())


# --- reading -----------------------------------------------------------------------------------------
def _customer(s: Session, owner: str) -> BillingCustomer:
    row = s.scalars(select(BillingCustomer).where(BillingCustomer.owner_id == owner)).first()
    if row is None:
        raise NotFoundError(f"No customer for owner_id={owner!r}: billingos holds no personal data under it.",
                            param="owner_id")
    return row


class _Ids:
    """The Stripe ids that tie rows without an owner id to the owner."""

    def __init__(self, owner: str, customer: str, subscriptions: list[str], invoices: list[str]) -> None:
        self.owner, self.customer, self.subscriptions, self.invoices = owner, customer, subscriptions, invoices

    @classmethod
    def read(cls, s: Session, owner: str, row: BillingCustomer) -> _Ids:
        subs = list(s.scalars(select(BillingSubscription.stripe_id).where(or_(
            BillingSubscription.owner_id == owner, BillingSubscription.customer_stripe_id == row.stripe_id))))
        invoices = list(s.scalars(select(BillingInvoice.stripe_id).where(or_(
            BillingInvoice.owner_id == owner, BillingInvoice.customer_stripe_id == row.stripe_id))))
        return cls(owner, row.stripe_id, subs, invoices)

    def subscription_filter(self) -> Any:
        return or_(BillingSubscription.owner_id == self.owner, BillingSubscription.customer_stripe_id == self.customer)

    def invoice_filter(self) -> Any:
        return or_(BillingInvoice.owner_id == self.owner, BillingInvoice.customer_stripe_id == self.customer)

    def card_filter(self) -> Any:
        return or_(BillingPaymentMethod.owner_id == self.owner,
                   BillingPaymentMethod.customer_stripe_id == self.customer)

    def dunning_filter(self) -> Any:
        return or_(BillingDunningCase.owner_id == self.owner, BillingDunningCase.customer_stripe_id == self.customer)

    def ledger_filter(self) -> Any:
        return or_(BillingLedgerEntry.owner_id == self.owner, BillingLedgerEntry.customer_stripe_id == self.customer)

    def feedback_filter(self) -> Any:
        return or_(BillingCancellationFeedback.owner_id == self.owner,
                   BillingCancellationFeedback.subscription_stripe_id.in_(self.subscriptions or [""]))

    def object_ids(self, s: Session) -> list[str]:
        cards = list(s.scalars(select(BillingPaymentMethod.stripe_id).where(self.card_filter())))
        return [self.customer, *self.subscriptions, *self.invoices, *cards]


def _items(s: Session, sub_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    if sub_ids:
        for i in s.scalars(select(BillingSubscriptionItem).where(BillingSubscriptionItem.subscription_id.in_(sub_ids))
                           .order_by(BillingSubscriptionItem.id)):
            out.setdefault(i.subscription_id, []).append(_cols(i, "price_stripe_id", "price_lookup_key", "quantity"))
    return out


def _notifications(s: Session, found: tuple[str, ...]) -> list[BillingJob]:
    """The emails queued to any of the person's addresses (``found``: see ``_needles``), and the
    merchant's alerts that named one."""
    emails = [n for n in found if "@" in n]
    if not emails:
        return []
    to = func.lower(BillingJob.payload["to"].as_string())
    named = func.lower(BillingJob.payload[("context", "customer_email")].as_string())
    return list(s.scalars(select(BillingJob).where(BillingJob.queue == NOTIFICATIONS,
                                                   or_(to.in_(emails), named.in_(emails)))
                          .order_by(BillingJob.id)))


def _audit_filter(owner: str, row: BillingCustomer) -> Any:
    a = BillingAuditEvent
    return or_(a.owner_id == owner, and_(a.actor_kind == "owner", a.actor_id == owner),
               and_(a.target_type == "customer", a.target_id == row.stripe_id))


def _customer_export(row: BillingCustomer) -> dict[str, Any]:
    data = row.data or {}
    return {**Customer.from_row(row).model_dump(mode="json"),
            **{k: data.get(k) for k in ("phone", "address", "shipping", "description")},
            "erased_at": _json(row.erased_at)}


def _cols(obj: Any, *names: str) -> dict[str, Any]:
    return {n: _json(getattr(obj, n)) for n in names}


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- erasing -----------------------------------------------------------------------------------------
def _erase(s: Session, owner: str, row: BillingCustomer, now: datetime, deleted: bool) -> dict[str, int]:
    """Every table's rows about the owner, pseudonymised in ``s``; returns the rows changed per table."""
    ids = _Ids.read(s, owner, row)
    objects = ids.object_ids(s)
    found = _needles(s, row, ids)
    counts: dict[str, int] = {}

    def count(table: str, n: int) -> None:
        if n:
            counts[table] = counts.get(table, 0) + n

    jobs = _notifications(s, found)
    address = pseudonym(row.stripe_id)
    for job in jobs:
        payload = redact(job.payload, found)
        payload["to"] = address if payload.get("to") == REDACTED else payload.get("to")
        job.payload, job.last_error = payload, redact_text(job.last_error, found)
        if job.status in ("pending", "failed"):     # never send an email to an erased person
            job.status, job.result, job.finished_at = "done", "erased", now
    count("billing_jobs", len(jobs))
    values = {"email": None, "name": None, "data": redact(row.data, found),
              "stripe_metadata": redact(row.stripe_metadata, found), "erased_at": row.erased_at or now}
    if deleted and row.deleted_at is None:
        values["deleted_at"] = now
    s.execute(update(BillingCustomer).where(BillingCustomer.id == row.id).values(**values))
    count("billing_customers", 1)
    for model, where, columns in (
            (BillingInvoice, ids.invoice_filter(), ("data", "lines")),
            (BillingSubscription, ids.subscription_filter(), ("data", "stripe_metadata")),
            (BillingPaymentMethod, ids.card_filter(), ("data",)),
            (BillingWebhookEvent, BillingWebhookEvent.object_id.in_(objects), ("payload",)),
            (BillingLedgerEntry, ids.ledger_filter(), ("detail",)),
            (BillingUsageEvent, BillingUsageEvent.owner_id == owner, ("properties",)),
            (BillingInsight, BillingInsight.owner_id == owner, ("message", "data")),
            (BillingEntitlement, BillingEntitlement.owner_id == owner, ("reason",)),
            (BillingApiKey, BillingApiKey.owner_id == owner, ("name",))):
        for column in columns:
            count(model.__tablename__, _redact_column(s, model, where, column, found))
    count("billing_insights", s.execute(update(BillingInsight).where(
        BillingInsight.owner_id == owner, BillingInsight.note.is_not(None)).values(note=None)).rowcount)  # type: ignore[attr-defined]
    count("billing_cancellation_feedback", s.execute(update(BillingCancellationFeedback).where(
        ids.feedback_filter(), BillingCancellationFeedback.comment.is_not(None)).values(comment=None)).rowcount)  # type: ignore[attr-defined]
    count("billing_audit_events", _scrub_audit(s, owner, row, found))
    return counts


def _needles(s: Session, row: BillingCustomer, ids: _Ids) -> tuple[str, ...]:
    """The person's strings: the customer's, and the copies invoices and cards froze (an older email)."""
    values: list[Any] = [row.email, row.name, *personal_strings(row.data)]
    for data in s.scalars(select(BillingInvoice.data).where(ids.invoice_filter())):
        values += personal_strings(data)
    for data in s.scalars(select(BillingPaymentMethod.data).where(ids.card_filter())):
        values += personal_strings(data)
    return needles(values)


def _redact_column(s: Session, model: Any, where: Any, column: str, found: tuple[str, ...]) -> int:
    """Rewrite ``column`` of the matching rows that change when redacted; the number rewritten."""
    attr = getattr(model, column)
    key = model.id if hasattr(model, "id") else model.idempotency_key     # usage events: within the owner
    changed = 0
    for pk, value in s.execute(select(key, attr).where(where, attr.is_not(None))).all():
        new = redact_text(value, found) if isinstance(value, str) else redact(value, found)
        if new != value:
            s.execute(update(model).where(where, key == pk).values({column: new}))
            changed += 1
    return changed


def _scrub_audit(s: Session, owner: str, row: BillingCustomer, found: tuple[str, ...]) -> int:
    """Before/after without the person or free text about them; the owner's own client address cleared
    (the 0015 trigger allows exactly this: what happened, who and when stay)."""
    changed = 0
    for e in s.scalars(select(BillingAuditEvent).where(_audit_filter(owner, row))):
        before, after = _audit_state(e.before, found), _audit_state(e.after, found)
        mine = e.actor_kind == "owner" and e.actor_id == owner
        address = None if mine else e.client_address
        if (before, after, address) != (e.before, e.after, e.client_address):
            s.execute(update(BillingAuditEvent).where(BillingAuditEvent.id == e.id)
                      .values(before=before, after=after, client_address=address))
            changed += 1
    return changed


def _audit_state(state: dict[str, Any] | None, found: tuple[str, ...]) -> dict[str, Any] | None:
    if state is None:
        return None
    clean = redact(state, found)
    return {k: (REDACTED if k in _FREE_TEXT and v else v) for k, v in clean.items()}
