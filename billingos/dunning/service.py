"""``billing.dunning``: billingos's payment retries for failed subscription invoices, on the job primitive.

Stripe's automatic retries are turned off for the account (Smart Retries off, "leave the subscription
past-due"; see docs/dunning.md), so billingos owns the schedule and every step runs on the injected clock:

1. ``invoice.payment_failed`` for a renewal invoice opens a case (one per invoice) in the transaction that
   syncs the invoice, and enqueues a ``dunning.failure`` job keyed by the invoice and its attempt count, so
   the webhook and billingos's own retry report one failure once.
2. The failure job reads the decline from the invoice's PaymentIntent (Stripe first, no lock held) and, in
   one transaction: a hard decline or a missing payment method gets no retry (the case waits for the
   window to close, or for the customer to pay); otherwise retry ``n`` is enqueued as a ``dunning.retry``
   job due ``retry_days[n-1]`` days after the first failure, and ``PaymentRetryScheduled`` is published.
3. The retry job counts the retry, pays the invoice (``POST /v1/invoices/{id}/pay``, an idempotency key per
   retry) and syncs the answer; a decline enqueues the failure job of step 2 again.
4. When the invoice is paid (by a retry, by the customer, out of band) the case is ``recovered`` and
   ``PaymentRecovered`` is published; pending retry jobs then find the case closed and do nothing.
5. After the last failed retry (or when the window closes without one) the ``dunning.final`` job cancels
   the subscription or leaves it unpaid, as configured, and publishes ``DunningExhausted``.

Each event is published from the transaction that changes the case's row, guarded by that row's state, so
each fires once. The grace period that keeps entitlements while past due is ``billing.entitlements``'s.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validation
from ..db import insert_ignore
from ..domain_events import (
    CustomerSynced,
    DunningExhausted,
    InvoiceSynced,
    PaymentFailed,
    PaymentRecovered,
    PaymentRetryScheduled,
    SubscriptionSynced,
)
from ..errors import CardDeclinedError, ConflictError, NotFoundError, StripeRequestError
from ..freshness import apply_fresh
from ..invoices.models import BillingInvoice
from ..jobs import Job
from ..stripe_api import call_stripe, intent_key, plain
from .models import STATUSES, BillingDunningCase
from .schemas import DunningCase

if TYPE_CHECKING:
    from ..context import Context
    from ..invoices.service import InvoiceService
    from ..subscriptions.service import SubscriptionService

__all__ = ["HARD_DECLINES", "DunningService"]

#: Stripe's non-retryable decline codes: retrying the same card cannot succeed.
HARD_DECLINES = frozenset({
    "lost_card", "stolen_card", "pickup_card", "fraudulent", "incorrect_number", "invalid_account",
    "restricted_card", "card_not_supported", "expired_card", "revocation_of_authorization",
    "revocation_of_all_authorizations", "security_violation", "stop_payment_order",
})
FAILURE, RETRY, FINAL = "dunning.failure", "dunning.retry", "dunning.final"
OUTCOME = {"cancel": "canceled", "unpaid": "unpaid"}
ENDED = ("canceled", "unpaid", "incomplete_expired")
DUNNED_REASONS = ("subscription_cycle", "subscription_update", "subscription_threshold", "subscription")


class DunningService:
    """See the module docstring and docs/dunning.md. Built by ``Billing``."""

    def __init__(self, ctx: Context, *, invoices: InvoiceService, subscriptions: SubscriptionService) -> None:
        self._ctx = ctx
        self._invoices = invoices
        self._subscriptions = subscriptions
        self.retry_days: tuple[int, ...] = tuple(ctx.config.dunning_retry_days)
        self.final_outcome: str = ctx.config.dunning_final_outcome
        for name, handler in ((FAILURE, self._failure_jobs), (RETRY, self._retry_jobs), (FINAL, self._final_jobs)):
            ctx.jobs.define(name, handler, batch=20, max_attempts=12, base_delay=timedelta(minutes=1))
        ctx.events.subscribe_in_transaction(PaymentFailed, self._payment_failed)
        ctx.events.subscribe_in_transaction(InvoiceSynced, self._invoice_synced)
        ctx.events.subscribe_in_transaction(SubscriptionSynced, self._subscription_synced)
        ctx.events.subscribe_in_transaction(CustomerSynced, self._customer_synced)

    # --- reading ----------------------------------------------------------------------------------
    def get(self, invoice_id: str) -> DunningCase:
        """The dunning case of one invoice (NotFoundError when the invoice never failed a renewal payment)."""
        validation.stripe_id(invoice_id, "in", "invoice_id")
        with self._ctx.session_factory() as s:
            row = s.scalar(select(BillingDunningCase).where(BillingDunningCase.invoice_stripe_id == invoice_id))
            if row is None:
                raise NotFoundError(f"Invoice {invoice_id!r} is not in dunning.", param="invoice_id")
            return DunningCase.from_row(row)

    def list(self, *, owner_id: str | None = None, status: str | None = None, limit: int = 50) -> list[DunningCase]:
        """Cases, newest first; filter by owner and status (open, recovered, exhausted, closed)."""
        stmt = select(BillingDunningCase).order_by(BillingDunningCase.id.desc()).limit(validation.limit(limit))
        if owner_id is not None:
            stmt = stmt.where(BillingDunningCase.owner_id == validation.owner_id(owner_id))
        if status is not None:
            stmt = stmt.where(BillingDunningCase.status == validation.choice(status, "status", STATUSES))
        with self._ctx.session_factory() as s:
            return [DunningCase.from_row(r) for r in s.scalars(stmt)]

    def past_due(self, owner_id: str) -> DunningCase | None:
        """The owner's open case, oldest first: what a past-due banner shows (None when all is paid)."""
        validation.owner_id(owner_id)
        with self._ctx.session_factory() as s:
            row = s.scalar(select(BillingDunningCase).where(
                BillingDunningCase.owner_id == owner_id, BillingDunningCase.status == "open")
                .order_by(BillingDunningCase.id).limit(1))
            return None if row is None else DunningCase.from_row(row)

    # --- domain events (inside the invoice sync's transaction) ---------------------------------------
    def _payment_failed(self, session: Session, e: PaymentFailed) -> None:
        inv = e.invoice
        if inv.subscription is None or inv.status != "open" or inv.billing_reason not in DUNNED_REASONS:
            return      # the first invoice of a subscription is Stripe's (incomplete), not dunning's
        data = session.scalar(select(BillingInvoice.data).where(BillingInvoice.stripe_id == inv.id)) or {}
        if data.get("collection_method") != "charge_automatically":
            return
        now = self._ctx.now()
        insert_ignore(session, BillingDunningCase, {
            "invoice_stripe_id": inv.id, "subscription_stripe_id": inv.subscription, "customer_stripe_id": inv.customer,
            "owner_id": inv.owner_id, "status": "open", "amount_due": inv.amount_due, "currency": inv.currency,
            "retries_planned": len(self.retry_days), "retries_done": 0, "first_failed_at": now,
            "closes_at": now + timedelta(days=self.retry_days[-1]), "updated_at": now}, key=["invoice_stripe_id"])
        self._ctx.jobs.enqueue(session, FAILURE, key=f"{inv.id}:{e.attempt_count}", group=inv.id,
                               payload={"invoice": inv.id})

    def _invoice_synced(self, session: Session, e: InvoiceSynced) -> None:
        status = e.after.status
        if status not in ("paid", "void", "uncollectible"):
            return
        row = self._open_case(session, e.after.id)
        if row is None:
            return
        if status == "paid":
            self._close(session, row, "recovered")
            self._ctx.events.publish(session, PaymentRecovered(DunningCase.from_row(row)))
            return
        # Voided or uncollectible: alone (closed), or as part of Stripe's final action with its retries on
        # (exhausted); the settling job asks Stripe which, whatever order the webhooks arrive in.
        self._ctx.jobs.enqueue(session, FINAL, key=f"{e.after.id}:{status}", payload={"invoice": e.after.id})

    def _subscription_synced(self, session: Session, e: SubscriptionSynced) -> None:
        """The subscription ended or became unpaid during dunning (Stripe's final action, or the host)."""
        if e.after.status not in ENDED or (e.before is not None and e.before.status == e.after.status):
            return
        stmt = select(BillingDunningCase).where(BillingDunningCase.subscription_stripe_id == e.after.id,
                                                BillingDunningCase.status == "open")
        for row in session.scalars(stmt.with_for_update() if self._ctx.dialect == "postgresql" else stmt):
            self._exhaust(session, row, "unpaid" if e.after.status == "unpaid" else "canceled")

    def _customer_synced(self, session: Session, e: CustomerSynced) -> None:
        """A new default card (the portal's "update your card", or the host's): retry the open invoices now,
        outside the schedule (it does not use up a scheduled retry)."""
        pm = e.after.default_payment_method
        if e.before is None or not pm or pm == e.before.default_payment_method:
            return
        for invoice_id in session.scalars(select(BillingDunningCase.invoice_stripe_id).join(
                BillingInvoice, BillingInvoice.stripe_id == BillingDunningCase.invoice_stripe_id).where(
                BillingDunningCase.customer_stripe_id == e.after.id, BillingDunningCase.status == "open",
                BillingInvoice.next_payment_attempt.is_(None))):     # Stripe retrying itself: leave it to Stripe
            self._ctx.jobs.enqueue(session, RETRY, key=f"{invoice_id}:card:{pm}"[:255], group=invoice_id,
                                   payload={"invoice": invoice_id, "retry": 0, "card": pm})

    def _close(self, session: Session, row: BillingDunningCase, status: str, outcome: str | None = None) -> None:
        now = self._ctx.now()
        row.status, row.outcome, row.next_retry_at, row.closed_at, row.updated_at = status, outcome, None, now, now
        session.flush()

    def _exhaust(self, session: Session, row: BillingDunningCase, outcome: str) -> None:
        self._close(session, row, "exhausted", outcome)
        self._ctx.events.publish(session, DunningExhausted(DunningCase.from_row(row), outcome))

    # --- jobs ------------------------------------------------------------------------------------
    def _each(self, jobs: builtins.list[Job], fn: Callable[[Job], None]) -> None:
        """Handle the jobs one by one: one failing job retries alone."""
        for job in jobs:
            try:
                fn(job)
            except Exception as exc:  # recorded on the job (backoff, then dead letter); the others go on
                self._ctx.jobs.failed([job], exc)

    def _failure_jobs(self, jobs: builtins.list[Job]) -> None:
        self._each(jobs, self._failure)

    def _failure(self, job: Job) -> None:
        invoice_id = job.payload["invoice"]
        if not self._is_open(invoice_id):
            return
        inv = self._fetch(invoice_id)                     # Stripe first, outside any transaction
        decline, has_pm = self._last_error(inv)
        ended = self._sub_status(inv) in ENDED or inv.get("status") != "open" or not inv.get("auto_advance")
        stripe_at = inv.get("next_payment_attempt")
        with self._ctx.transaction() as s:
            row = self._open_case(s, invoice_id)
            self._ctx.jobs.done(s, [job])
            if row is None:
                return
            now = self._ctx.now()
            row.last_decline_code, row.updated_at = decline, now
            if ended:
                return                          # Stripe stopped collecting: the sync of that closes the case
            if stripe_at is not None:           # Stripe's own retries are on: follow them, never retry twice
                at = datetime.fromtimestamp(int(stripe_at), UTC)
                row.retries_done = max(row.retries_done, int(inv.get("attempt_count") or 1) - 1)
                if row.next_retry_at != at:
                    row.next_retry_at = at
                    s.flush()
                    self._ctx.events.publish(s, PaymentRetryScheduled(DunningCase.from_row(row),
                                                                      row.retries_done + 1, at))
                return
            if not has_pm or decline in HARD_DECLINES:
                row.no_retry_reason = "no_payment_method" if not has_pm else "hard_decline"
                row.next_retry_at = None
                self._ctx.jobs.enqueue(s, FINAL, key=invoice_id, payload={"invoice": invoice_id},
                                       run_at=max(row.closes_at, now))
            elif row.retries_done < row.retries_planned:
                n = row.retries_done + 1
                day = self.retry_days[min(n, len(self.retry_days)) - 1]
                at = max(row.first_failed_at + timedelta(days=day), now)
                payload = {"invoice": invoice_id, "retry": n}
                if self._ctx.jobs.enqueue(s, RETRY, key=f"{invoice_id}:{n}", payload=payload, run_at=at):
                    row.next_retry_at, row.no_retry_reason = at, None
                    s.flush()
                    self._ctx.events.publish(s, PaymentRetryScheduled(DunningCase.from_row(row), n, at))
            else:
                row.next_retry_at = None
                self._ctx.jobs.enqueue(s, FINAL, key=invoice_id, payload={"invoice": invoice_id})

    def _retry_jobs(self, jobs: builtins.list[Job]) -> None:
        self._each(jobs, self._retry)

    def _retry(self, job: Job) -> None:
        invoice_id, n, card = job.payload["invoice"], int(job.payload["retry"]), job.payload.get("card")
        with self._ctx.transaction() as s:     # count the retry before paying: a failure report finds it counted
            row = self._open_case(s, invoice_id)
            if row is None:
                self._ctx.jobs.done(s, [job], result="stopped")
                return
            row.retries_done, row.next_retry_at, row.updated_at = max(row.retries_done, n), None, self._ctx.now()
        stripe = self._ctx.stripe.v1
        skipped = False
        try:
            call_stripe(stripe.invoices.pay, invoice_id, params={"off_session": True},
                        options={"idempotency_key": intent_key("dunning.retry", invoice_id, n, card)})
        except CardDeclinedError:
            pass                                # the failure is reported below (and by the webhook)
        except StripeRequestError as exc:
            if exc.stripe_code in ("invoice_already_paid", "invoice_not_editable"):
                pass                            # paid or voided meanwhile: the sync below says so
            elif exc.stripe_code in ("invoice_no_payment_method", "invoice_payment_intent_requires_action"):
                skipped = True                  # no charge was made: Stripe reports no failure
            else:
                raise
        def apply(session: Session, obj: dict[str, Any]) -> None:
            self._invoices.apply(session, obj)
            if obj.get("status") == "open":
                key = f"{invoice_id}:{obj.get('attempt_count')}" + (f":skip{n}" if skipped else "")
                self._ctx.jobs.enqueue(session, FAILURE, key=key, group=invoice_id, payload={"invoice": invoice_id})
            self._ctx.jobs.done(session, [job])
        apply_fresh(self._ctx, lambda: self._fetch(invoice_id), apply, refetch=self._fetch, name=invoice_id)

    def _final_jobs(self, jobs: builtins.list[Job]) -> None:
        self._each(jobs, self._final)

    def _final(self, job: Job) -> None:
        invoice_id = job.payload["invoice"]
        case = self._read(invoice_id)
        if case is None or case.status != "open":
            return
        current = self._fetch(invoice_id)
        if current.get("status") == "paid":      # paid meanwhile: the sync recovers the case
            apply_fresh(self._ctx, lambda: current, self._invoices.apply, refetch=self._fetch, name=invoice_id)
            return
        sub_status = self._sub_status(current)
        if sub_status in ENDED:                  # Stripe's final action (its retries on) or the host ended it
            outcome: str | None = "unpaid" if sub_status == "unpaid" else "canceled"
        elif current.get("status") != "open":    # voided or marked uncollectible by the host: no outcome
            outcome = None
        else:
            outcome = OUTCOME[self.final_outcome]
        if outcome == "canceled" and sub_status not in ENDED:
            with suppress(ConflictError):       # already ended meanwhile
                self._subscriptions.cancel(case.subscription_id, at_period_end=False)
        with self._ctx.transaction() as s:
            row = self._open_case(s, invoice_id)
            self._ctx.jobs.done(s, [job], result=outcome or "closed")
            if row is not None and outcome is None:
                self._close(s, row, "closed")
            elif row is not None and outcome is not None:
                self._exhaust(s, row, outcome)

    # --- helpers ----------------------------------------------------------------------------------
    def _fetch(self, invoice_id: str) -> dict[str, Any]:
        obj = self._invoices.fetch(invoice_id)
        if obj is None:
            raise NotFoundError(f"Stripe has no invoice {invoice_id!r}.", param="invoice_id")
        return obj

    def _sub_status(self, inv: dict[str, Any]) -> str | None:
        sub = inv.get("subscription") or (((inv.get("parent") or {}).get("subscription_details") or {})
                                          .get("subscription"))
        sub_id = sub.get("id") if isinstance(sub, dict) else sub
        if not isinstance(sub_id, str):
            return None
        return plain(call_stripe(self._ctx.stripe.v1.subscriptions.retrieve, sub_id)).get("status")

    def _last_error(self, inv: dict[str, Any]) -> tuple[str | None, bool]:
        """(decline code, whether a payment method was tried) of the invoice's latest payment attempt."""
        pi_id = inv.get("payment_intent")
        for pay in (inv.get("payments") or {}).get("data") or []:
            pi_id = pi_id or ((pay.get("payment") or {}).get("payment_intent"))
        if not isinstance(pi_id, str):
            return None, False
        pi = plain(call_stripe(self._ctx.stripe.v1.payment_intents.retrieve, pi_id))
        error = pi.get("last_payment_error") or {}
        tried = bool(pi.get("payment_method") or error.get("payment_method"))
        return error.get("decline_code") or error.get("code"), tried

    def _read(self, invoice_id: str) -> DunningCase | None:
        with self._ctx.session_factory() as s:
            row = s.scalar(select(BillingDunningCase).where(BillingDunningCase.invoice_stripe_id == invoice_id))
            return None if row is None else DunningCase.from_row(row)

    def _is_open(self, invoice_id: str) -> bool:
        case = self._read(invoice_id)
        return case is not None and case.status == "open"

    def _open_case(self, session: Session, invoice_id: str) -> BillingDunningCase | None:
        """The case's row, locked until the commit, when it is still open."""
        stmt = select(BillingDunningCase).where(BillingDunningCase.invoice_stripe_id == invoice_id)
        if self._ctx.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = session.scalar(stmt)
        return row if row is not None and row.status == "open" else None
