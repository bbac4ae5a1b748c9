"""``billing.notifications``: billingos's emails, rendered from jinja2 templates and sent on the job primitive.

A domain event (``TrialWillEnd``, ``PaymentFailed``, ``UsageThresholdReached``, ``PaymentRetryScheduled``,
``PaymentRecovered``, ``DunningExhausted``) enqueues one ``notifications.send`` job in the transaction that
made it true. The job's key is the message's idempotency key (``payment_failed:in_…``), unique in
``billing_jobs``, so a message is stored once however often its event is replayed; workers claim jobs
atomically, so one worker sends it; a failing mailer is retried with backoff, then dead-lettered. The
context is stored as JSON and rendered at send time (``render.py``).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import validation
from ..catalog.models import BillingMeter, BillingPrice, BillingProduct
from ..customers.models import BillingCustomer
from ..domain_events import (
    ChurnRiskDetected,
    DunningExhausted,
    PaymentFailed,
    PaymentRecovered,
    PaymentRetryScheduled,
    TrialWillEnd,
    UpgradeOpportunityDetected,
    UsageThresholdReached,
)
from ..errors import InvalidInputError
from ..invoices.models import BillingInvoice
from ..jobs import Job
from ..subscriptions.models import BillingSubscription, BillingSubscriptionItem
from .mailer import EmailMessage, LoggingMailer, Mailer
from .render import TEMPLATES, Renderer

if TYPE_CHECKING:
    from ..context import Context
    from ..dunning.schemas import DunningCase
    from ..entitlements import EntitlementService
    from ..invoices.schemas import Invoice

__all__ = ["REQUIRED", "NotificationService"]

QUEUE = "notifications.send"
#: The context keys each template needs (besides brand, customer_name and action_url, which are filled in).
REQUIRED: dict[str, tuple[str, ...]] = {
    "trial_ending": ("plan", "trial_end", "amount", "currency", "has_payment_method"),
    "payment_failed": ("amount", "currency", "invoice_number", "plan", "decline_reason"),
    "retry_scheduled": ("amount", "currency", "invoice_number", "retry", "retries", "retry_at", "access_until"),
    "payment_recovered": ("amount", "currency", "invoice_number"),
    "dunning_exhausted": ("amount", "currency", "invoice_number", "outcome", "attempts"),
    "usage_threshold": ("meter_name", "threshold", "used", "limit", "period_end"),
    "upgrade_suggestion": ("reason", "suggested_plan", "suggested_amount", "current_amount", "savings", "currency"),
    "churn_risk_alert": ("customer_email", "risk", "reasons", "mrr", "currency"),
}
DECLINES = {"insufficient_funds": "insufficient funds", "expired_card": "the card has expired",
            "lost_card": "the card was reported lost", "stolen_card": "the card was reported stolen",
            "incorrect_cvc": "the security code is incorrect", "generic_decline": "the card was declined",
            "card_velocity_exceeded": "the card's limit was exceeded"}


class NotificationService:
    """See the module docstring and docs/notifications.md. Built by ``Billing``."""

    def __init__(self, ctx: Context, *, entitlements: EntitlementService) -> None:
        self._ctx = ctx
        self._entitlements = entitlements
        config = ctx.config
        self.mailer: Mailer = config.mailer if config.mailer is not None else LoggingMailer()
        self.renderer = Renderer()
        self.disabled: set[str] = set()
        ctx.jobs.define(QUEUE, self._send_jobs, batch=20, max_attempts=10, base_delay=timedelta(minutes=1),
                        lease=timedelta(minutes=10))
        on = ctx.events.subscribe_in_transaction
        on(TrialWillEnd, self._trial_will_end)
        on(PaymentFailed, self._payment_failed)
        on(PaymentRetryScheduled, self._retry_scheduled)
        on(PaymentRecovered, self._recovered)
        on(DunningExhausted, self._exhausted)
        on(UsageThresholdReached, self._usage_threshold)
        on(UpgradeOpportunityDetected, self._upgrade_suggestion)
        on(ChurnRiskDetected, self._churn_risk_alert)

    def configure(self, *, disabled: builtins.list[str] | None = None, template_dir: str | None = None) -> None:
        """``disabled``: templates never sent (e.g. ``["usage_threshold"]``). ``template_dir``: a folder whose
        ``<name>.subject.txt``/``.txt``/``.html`` files replace billingos's (docs/notifications.md)."""
        if disabled is not None:
            if isinstance(disabled, str) or not isinstance(disabled, list | tuple | set | frozenset):
                raise InvalidInputError("disabled must be a list of template names.", param="disabled")
            names = {validation.choice(n, "disabled", TEMPLATES) for n in disabled}
        if template_dir is not None:
            validation.text(template_dir, "template_dir", max_length=4096, required=True)
            if not os.path.isdir(template_dir):
                raise InvalidInputError(f"template_dir must be an existing directory, got "
                                        f"{validation.echo(template_dir)}.", param="template_dir")
        if disabled is not None:
            self.disabled = names
        if template_dir is not None:
            self.renderer = Renderer(template_dir=template_dir)

    # --- sending ----------------------------------------------------------------------------------
    def send(self, template: str, *, to: str, context: Mapping[str, Any], key: str) -> bool:
        """Send an email from one of billingos's templates, once per ``key`` (its idempotency key), on the
        job primitive. False when ``key`` was already used (nothing new is sent)."""
        with self._ctx.transaction() as session:
            return self.enqueue(session, template, to=to, context=context, key=key)

    def enqueue(self, session: Session, template: str, *, to: str, context: Mapping[str, Any], key: str) -> bool:
        """``send`` inside the caller's transaction: the email goes out only if that transaction commits."""
        validation.email(to, "to", required=True)
        validation.idempotency_key(key, "key")
        data = self._context(template, context)
        if template in self.disabled:
            return False
        return self._ctx.jobs.enqueue(session, QUEUE, key=key, payload={"template": template, "to": to,
                                                                        "context": data})

    def render(self, template: str, context: Mapping[str, Any]) -> EmailMessage:
        """The message ``template`` renders to with ``context`` (a preview: nothing is sent)."""
        data = self._context(template, context)
        try:
            return self._message(template, "preview@example.com", data, "preview")
        except jinja2.UndefinedError as e:      # a host's template override uses a key the context lacks
            raise InvalidInputError(f"context for {template}: {e}.", param="context") from None

    def _context(self, template: str, context: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON context a template is rendered with: the given keys over brand, customer_name, action_url."""
        validation.choice(template, "template", TEMPLATES)
        data = validation.json_object(dict(context) if isinstance(context, Mapping) else context, "context")
        missing = [k for k in REQUIRED[template] if k not in data]
        if missing:
            raise InvalidInputError(f"context for {template} needs {', '.join(missing)}.", param="context")
        return {"brand": self._ctx.config.email_brand, "customer_name": None, "action_url": None, **data}

    def _message(self, template: str, to: str, context: dict[str, Any], key: str) -> EmailMessage:
        subject, text, html = self.renderer.render(template, context)
        return EmailMessage(to=to, subject=subject, text=text, html=html, template=template, idempotency_key=key,
                            sender=self._ctx.config.email_from, headers={"Idempotency-Key": key})

    def _send_jobs(self, jobs: builtins.list[Job]) -> None:
        for job in jobs:
            try:
                p = job.payload
                self.mailer.send(self._message(p["template"], p["to"], dict(p["context"]), job.key))
            except Exception as exc:  # the mailer (or a template) failed: retried with backoff, then dead
                self._ctx.jobs.failed([job], exc)
                continue
            with self._ctx.transaction() as s:
                self._ctx.jobs.done(s, [job], result="sent")

    # --- domain events -----------------------------------------------------------------------------
    def _customer(self, session: Session, *, customer: str | None = None,
                  owner_id: str | None = None) -> BillingCustomer | None:
        c = BillingCustomer
        where = c.stripe_id == customer if customer is not None else c.owner_id == owner_id
        row = session.scalar(select(c).where(where))
        return row if row is not None and row.email else None

    def _to_customer(self, session: Session, template: str, key: str, context: dict[str, Any], *,
                     customer: str | None = None, owner_id: str | None = None,
                     action_url: str | None = None) -> None:
        row = self._customer(session, customer=customer, owner_id=owner_id)
        if row is None or template in self.disabled:
            return                               # no address to write to
        portal = self._ctx.config.portal_url
        context = {**context, "customer_name": row.name, "action_url": portal or action_url}
        self.enqueue(session, template, to=str(row.email), context=context, key=key)

    def _plan(self, session: Session, subscription_id: str | None) -> str:
        """The product name of the subscription's first item ("Pro"), never an id."""
        if subscription_id:
            item = select(BillingSubscriptionItem.product_stripe_id).join(
                BillingSubscription, BillingSubscription.id == BillingSubscriptionItem.subscription_id).where(
                BillingSubscription.stripe_id == subscription_id).order_by(BillingSubscriptionItem.id).limit(1)
            name = session.scalar(select(BillingProduct.name).where(BillingProduct.stripe_id == item.scalar_subquery()))
            if name:
                return str(name)
        return "subscription"

    def _invoice_context(self, session: Session, inv: Invoice) -> dict[str, Any]:
        return {"amount": inv.amount_due, "currency": inv.currency, "invoice_number": inv.number or "",
                "plan": self._plan(session, inv.subscription), "_url": inv.hosted_invoice_url}

    def _case_context(self, session: Session, case: DunningCase) -> dict[str, Any]:
        row = session.scalar(select(BillingInvoice).where(BillingInvoice.stripe_id == case.invoice_id))
        number, url = (row.number, row.hosted_invoice_url) if row is not None else (None, None)
        return {"amount": case.amount_due, "currency": case.currency, "invoice_number": number or "", "_url": url}

    def _trial_will_end(self, session: Session, e: TrialWillEnd) -> None:
        sub = e.subscription
        if e.trial_end is None:
            return
        item = sub.items[0] if sub.items else None
        amount = session.scalar(select(BillingPrice.unit_amount).where(BillingPrice.stripe_id == item.price)) \
            if item is not None else None
        has_pm = bool(session.scalar(select(BillingCustomer.default_payment_method).where(
            BillingCustomer.stripe_id == sub.customer)))
        context = {"plan": self._plan(session, sub.id), "trial_end": e.trial_end.isoformat(),
                   "amount": int(amount or 0) * int((item.quantity if item else 1) or 1),
                   "currency": sub.currency or self._ctx.config.default_currency, "has_payment_method": has_pm}
        self._to_customer(session, "trial_ending", f"trial_ending:{sub.id}:{int(e.trial_end.timestamp())}",
                          context, customer=sub.customer)

    def _payment_failed(self, session: Session, e: PaymentFailed) -> None:
        inv = e.invoice
        if inv.billing_reason == "subscription_create":
            return                               # the customer is at checkout: the page tells them
        ctx = self._invoice_context(session, inv)
        url = ctx.pop("_url")
        ctx["decline_reason"] = None
        self._to_customer(session, "payment_failed", f"payment_failed:{inv.id}", ctx, customer=inv.customer,
                          action_url=url)

    def _retry_scheduled(self, session: Session, e: PaymentRetryScheduled) -> None:
        ctx = self._case_context(session, e.case)
        url = ctx.pop("_url")
        grace_until = e.case.first_failed_at + self._entitlements.grace_period    # features kept while past due
        ctx.update(retry=e.retry, retries=e.case.retries_planned, retry_at=e.retry_at.isoformat(),
                   access_until=grace_until.isoformat() if grace_until > e.retry_at else None)
        self._to_customer(session, "retry_scheduled", f"retry_scheduled:{e.case.invoice_id}:{e.retry}", ctx,
                          customer=e.case.customer_id, action_url=url)

    def _recovered(self, session: Session, e: PaymentRecovered) -> None:
        ctx = self._case_context(session, e.case)
        url = ctx.pop("_url")
        self._to_customer(session, "payment_recovered", f"payment_recovered:{e.case.invoice_id}", ctx,
                          customer=e.case.customer_id, action_url=url)

    def _exhausted(self, session: Session, e: DunningExhausted) -> None:
        ctx = self._case_context(session, e.case)
        url = ctx.pop("_url")
        ctx.update(outcome=e.outcome, attempts=e.case.retries_done + 1)
        self._to_customer(session, "dunning_exhausted", f"dunning_exhausted:{e.case.invoice_id}", ctx,
                          customer=e.case.customer_id, action_url=url if e.outcome == "unpaid" else None)

    def _upgrade_suggestion(self, session: Session, e: UpgradeOpportunityDetected) -> None:
        sg = e.suggestion
        why = {"usage_90": "You have used 90% of a limit of your plan.", "seats_maxed": "Every seat of your plan "
               "is taken.", "cheaper_plan": "At your current usage, a higher plan would cost you less."}
        ctx = {"reason": " ".join(why[r] for r in sg.reasons if r in why), "suggested_plan": sg.suggested_plan,
               "suggested_amount": sg.suggested_amount, "current_amount": sg.current_amount,
               "savings": max(0, sg.saving), "currency": sg.currency}
        key = f"upgrade_suggestion:{e.owner_id}:{int(sg.period_start.timestamp())}"
        self._to_customer(session, "upgrade_suggestion", key[:255], ctx, owner_id=e.owner_id)

    def _churn_risk_alert(self, session: Session, e: ChurnRiskDetected) -> None:
        """To the merchant (``merchant_email``), once per risk episode."""
        to = self._ctx.config.merchant_email
        if not to or "churn_risk_alert" in self.disabled:
            return
        row = session.scalar(select(BillingCustomer).where(BillingCustomer.owner_id == e.owner_id))
        ctx = {"customer_email": (row.email if row is not None else None) or e.owner_id, "risk": e.score,
               "reasons": list(e.reasons), "mrr": e.mrr, "currency": (row.currency if row is not None else None)
               or self._ctx.config.default_currency, "customer_name": row.name if row is not None else None,
               "action_url": None}
        self.enqueue(session, "churn_risk_alert", to=to, context=ctx, key=f"churn_risk_alert:{e.insight_id}")

    def _usage_threshold(self, session: Session, e: UsageThresholdReached) -> None:
        meter = session.scalar(select(BillingMeter.display_name).where(BillingMeter.event_name == e.meter))
        ctx = {"meter_name": meter or e.meter.replace("_", " "), "threshold": e.threshold, "used": e.used,
               "limit": e.limit, "period_end": e.period_end.isoformat()}
        key = f"usage_threshold:{e.owner_id}:{e.meter}:{int(e.period_start.timestamp())}:{e.threshold}"
        self._to_customer(session, "usage_threshold", key[:255], ctx, owner_id=e.owner_id)
