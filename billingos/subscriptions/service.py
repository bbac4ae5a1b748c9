"""``billing.subscriptions``: create, change, cancel, resume, pause. Stripe first, then sync, then signals."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer, joinedload

from .. import intents, validation
from ..actor import Actor, parse_actor
from ..customers import Customer
from ..domain_events import CustomerSynced, ScheduledChangeMoved, SubscriptionChanged, SubscriptionSynced
from ..errors import ConflictError, InvalidInputError, NotFoundError, StripeRequestError
from ..freshness import apply_fresh, claim_fresh
from ..stripe_api import call_stripe, intent_key, plain, ref_id
from . import feedback as cancel_feedback
from . import inputs
from .account import Account, AccountReader
from .inputs import PAUSE_BEHAVIORS, PRORATION, REACTIVATE_OPTIONS, STATUSES
from .mirrors import follow_owner, import_customer, subscription_mirrors, subscriptions_reconciler
from .models import BillingSubscription, BillingSubscriptionItem
from .prices import discounts_for, preview_from_invoice, resolve_items, resolve_price
from .schemas import InvoicePreview, Proration, Subscription
from .sync import mark_gone, sync_subscription, sync_subscription_schedule
from .upcoming import UpcomingCache, interval_changes, next_invoice, timed

if TYPE_CHECKING:
    from ..catalog.service import CatalogService
    from ..context import Context
    from ..customers import CustomerService
    from ..invoices import InvoiceService
    from ..reconcile import Reconciler
    from ..webhooks import Mirror

_SCHEDULE_EXPAND = ["phases.items.price"]
EXPAND = ["latest_invoice", "discounts.source.coupon"]   # the ledger tells forever discounts from the others

#: What a write records in the audit log: the action, who asked, and the subscription before it (None: a
#: new subscription).
Audit = tuple[str, Actor, Subscription | None]


class SubscriptionService:
    def __init__(self, ctx: Context, *, customers: CustomerService, invoices: InvoiceService,
                 catalog: CatalogService, default_proration: Proration = "prorate") -> None:
        if default_proration not in PRORATION:
            raise InvalidInputError(f"default_proration must be one of {', '.join(PRORATION)}.")
        self._ctx = ctx
        self._customers, self._invoices, self._catalog = customers, invoices, catalog
        self.default_proration: Proration = default_proration
        self.upcoming_cache = UpcomingCache()      # previews of next invoices, per subscription version
        self._accounts = AccountReader(ctx, self.upcoming_cache)
        ctx.events.subscribe_in_transaction(CustomerSynced, lambda s, e: follow_owner(self, s, e))

    # --- create ------------------------------------------------------------------------------------
    def create(self, customer: Customer | str, *, price: str | None = None, quantity: int | None = None,
               items: list[dict[str, Any]] | None = None, trial_days: int | None = None,
               trial_end: datetime | None = None, billing_cycle_anchor: datetime | None = None,
               payment_method: str | None = None, coupon: str | None = None, promotion_code: str | None = None,
               metadata: dict[str, str] | None = None, payment_behavior: str = "allow_incomplete",
               idempotency_key: str | None = None, actor: Actor | None = None) -> Subscription:
        """Subscribe a customer (a Customer, owner id or ``cus_`` id) to a price (lookup key or ``price_`` id),
        or to several ``items=[{"price": ..., "quantity": ...}]``. Audited with ``actor``.

        The same intent submitted twice, even concurrently, creates one subscription (and one audit entry)."""
        return self._create(customer, price=price, quantity=quantity, items=items, trial_days=trial_days,
                            trial_end=trial_end, billing_cycle_anchor=billing_cycle_anchor,
                            payment_method=payment_method, coupon=coupon, promotion_code=promotion_code,
                            metadata=metadata, payment_behavior=payment_behavior, idempotency_key=idempotency_key,
                            audit=("create", parse_actor(actor), None))

    def _create(self, customer: Customer | str, *, price: str | None, quantity: int | None,
                items: list[dict[str, Any]] | None, audit: Audit, idempotency_key: str | None = None,
                payment_behavior: str = "allow_incomplete", **options: Any) -> Subscription:
        """``create()`` (or ``reactivate()``, ``audit`` says which); ``options``: create()'s other options."""
        if (price is None) == (items is None):
            raise InvalidInputError("Give exactly one of price= or items=.", param="price")
        if items is not None and not isinstance(items, list | tuple):
            raise InvalidInputError(f"items must be a list of dicts, got {validation.echo(items)}.", param="items")
        lines = [{"price": price, "quantity": quantity}] if price is not None else list(items or [])
        params = inputs.create_options(self._ctx.now(), payment_behavior=payment_behavior,
                                       idempotency_key=idempotency_key, **options)
        source = "price" if price is not None else "items"
        inputs.lines(lines, source)
        if intents.METADATA_KEY in params["metadata"]:
            raise InvalidInputError(f"metadata key {intents.METADATA_KEY!r} is reserved for billingos's intent key.",
                                    param="metadata")
        cust = self._customer(customer)
        params = {"customer": cust.id, "items": resolve_items(self._ctx.stripe, lines, source), **params,
                  "expand": EXPAND}
        # One intent, one subscription (issue 8 item 2): recorded before Stripe is called, its key in the
        # subscription's metadata, so a retry finds what an earlier attempt made whatever failed between.
        intent = intents.begin(self._ctx, "subscription.create", cust.id, params, key=idempotency_key)
        if intent.status == "done" and intent.object_id:
            return self._commit(lambda: self._refetch(str(intent.object_id)), intent.object_id)
        params["metadata"] = {**params["metadata"], intents.METADATA_KEY: intent.key}

        def find() -> dict[str, Any] | None:       # Stripe may have forgotten the key: look by metadata
            page = call_stripe(self._ctx.stripe.v1.subscriptions.list, params={
                "customer": cust.id, "status": "all", "limit": 100, "expand": ["data.latest_invoice"]})
            return intents.carrying(map(plain, page.auto_paging_iter()), intent.key)

        def create() -> dict[str, Any]:
            return plain(call_stripe(self._ctx.stripe.v1.subscriptions.create, params=params,
                                     options={"idempotency_key": intent.key}))
        return self._commit(lambda: intents.make(self._ctx, intent, create, find), intent=intent.key, audit=audit)

    # --- changes -----------------------------------------------------------------------------------
    def preview_change(self, subscription: Subscription | str, *, price: str | None = None,
                       quantity: int | None = None, proration: Proration | None = None,
                       proration_date: datetime | None = None, promotion_code: str | None = None) -> InvoicePreview:
        """Stripe's own preview of the invoice that ``change()`` with the same arguments produces, and when
        Stripe issues it (as Stripe documents it):

        - ``always_invoice``, or a change of billing interval (monthly to yearly) with any immediate policy:
          Stripe invoices at once (``invoiced_now``, ``amount_due_now`` = ``amount_due``); an interval change
          also restarts the billing cycle today (``resets_billing_cycle``), the unused time credited;
        - ``prorate`` (a downgrade too): the prorations, a credit for a downgrade, wait for the next invoice
          (``invoiced_at`` = the period end); ``none``: no proration, the next renewal bills the new price;
        - ``at_period_end``: the renewal invoice with the new items (nothing is due now), previewed as the
          subscription's upcoming invoice with the items changed and no prorations."""
        inputs.change(price, quantity, proration, proration_date)
        sub = self._require(subscription)
        items, behavior = self._change_items(sub, price, quantity, proration)
        moment = proration_date or self._ctx.now()
        date = int(moment.timestamp())
        policy = proration or self.default_proration
        resets = policy != "at_period_end" and self._interval_changes(sub, items[0])
        details: dict[str, Any] = {"items": items, "proration_behavior": behavior, "proration_date": date}
        if resets:
            details["billing_cycle_anchor"] = "now"     # what Stripe does on its own for an interval change
        params = {"customer": sub.customer, "subscription": sub.id, "subscription_details": details,
                  **discounts_for(promotion_code)}
        inv = call_stripe(self._ctx.stripe.v1.invoices.create_preview, params=params)
        preview = preview_from_invoice(plain(inv), date)
        return timed(preview, sub, moment=moment, policy=policy, resets=resets)

    def _interval_changes(self, sub: Subscription, item: dict[str, Any]) -> bool:
        """Whether the change moves the plan item to another billing interval."""
        current = next((i.price for i in sub.items if i.id == item["id"]), None)
        if "price" not in item or current is None or current == item["price"]:
            return False
        return interval_changes(resolve_price(self._ctx.stripe, current),
                                resolve_price(self._ctx.stripe, item["price"]))

    def upcoming(self, owner_id: str) -> InvoicePreview | None:
        """The owner's next invoice as Stripe previews it (amount and ``effective_at``, the date it is issued),
        or None when nothing is coming: no live subscription, or one that cancels at the period end. Stripe is
        asked only when ``upcoming_cache`` has no preview of the subscription's current state."""
        return next_invoice(self._ctx, self.upcoming_cache, validation.owner_id(owner_id))

    def account(self, owner_id: str) -> Account:
        """What the owner's billing overview shows: customer, subscriptions, plan name, default card and next
        invoice (``Account``), in two statements; the next invoice comes from ``upcoming_cache`` or Stripe."""
        return self._accounts.read(validation.owner_id(owner_id))

    def change(self, subscription: Subscription | str, *, price: str | None = None, quantity: int | None = None,
               proration: Proration | None = None, proration_date: datetime | None = None,
               promotion_code: str | None = None, actor: Actor | None = None) -> Subscription:
        """Upgrade, downgrade or change the quantity of the subscription's plan item (audited with ``actor``).

        ``proration="at_period_end"`` schedules the change for the end of the current period (a Stripe
        subscription schedule: nothing is charged now, the renewal bills the new items); see
        ``Subscription.scheduled_change`` and ``cancel_scheduled_change()``. Any other change applies now and
        replaces a pending scheduled one (the schedule is released first, else it would undo this change)."""
        inputs.change(price, quantity, proration, proration_date)
        who = parse_actor(actor)
        sub = self._require(subscription)
        audit = ("change", who, sub)
        items, behavior = self._change_items(sub, price, quantity, proration)
        discounts = discounts_for(promotion_code)
        if (proration or self.default_proration) == "at_period_end":
            if promotion_code is not None:
                raise InvalidInputError("A promotion code applies to a change made now, not at the period end.",
                                        param="promotion_code")
            if proration_date is not None:
                raise InvalidInputError("proration_date does not apply to an at_period_end change.",
                                        param="proration_date")
            return self._schedule_change(sub, items[0], audit)
        if sub.schedule is not None:
            sub = self._release_schedule(sub)
        params: dict[str, Any] = {"items": items, "proration_behavior": behavior,
                                  "expand": EXPAND, **discounts}
        if proration_date is not None:
            params["proration_date"] = int(proration_date.timestamp())
        return self._update(sub, params, "change", audit)

    def cancel(self, subscription: Subscription | str, *, at_period_end: bool = True, prorate: bool = False,
               invoice_now: bool = False, feedback: str | None = None, comment: str | None = None,
               actor: Actor | None = None) -> Subscription:
        """Cancel at the end of the paid period (default) or now (optionally prorating a credit). Audited.

        ``feedback`` (one of Stripe's reasons, ``feedback.FEEDBACK``) and ``comment``: the customer's answer
        to the cancellation survey, sent to Stripe as ``cancellation_details``, stored, and published with
        the ``subscription_cancel_requested`` signal after the commit."""
        validation.boolean(at_period_end, "at_period_end")
        validation.boolean(prorate, "prorate")
        validation.boolean(invoice_now, "invoice_now")
        answer = cancel_feedback.details(feedback, comment)
        who = parse_actor(actor)
        sub = self._require(subscription)
        audit = ("cancel", who, sub)
        if sub.status in ("canceled", "incomplete_expired"):
            raise ConflictError(f"Subscription {sub.id} has already ended ({sub.status}); use reactivate().")
        extra = {"cancellation_details": answer} if answer else {}
        if at_period_end:
            if sub.schedule is not None:     # Stripe refuses to cancel a scheduled subscription directly
                sub = self._release_schedule(sub)
            done = self._update(sub, {"cancel_at_period_end": True, **extra}, "cancel", audit)
        else:
            done = self._commit(lambda: plain(call_stripe(
                self._ctx.stripe.v1.subscriptions.cancel, sub.id,
                params={"prorate": prorate, "invoice_now": invoice_now, **extra},
                options={"idempotency_key": intent_key("subscription.cancel", sub.id)})), sub.id, audit=audit)
        cancel_feedback.record(self._ctx, done, answer, at_period_end=at_period_end)
        return done

    def apply_coupon(self, subscription: Subscription | str, coupon: str, *,
                     actor: Actor | None = None) -> Subscription:
        """Put a Stripe coupon (its id) on the subscription, replacing its discounts. Audited."""
        validation.lookup_key(coupon, "coupon")
        sub, who = self._require(subscription), parse_actor(actor)
        return self._update(sub, {"discounts": [{"coupon": coupon}]}, "coupon", ("coupon", who, sub))

    def cancel_scheduled_change(self, subscription: Subscription | str, *,
                                actor: Actor | None = None) -> Subscription:
        """Drop a pending ``at_period_end`` change: the subscription's schedule is released, its items stay.
        Audited."""
        who = parse_actor(actor)
        sub = self._require(subscription)
        if sub.scheduled_change is None:
            raise ConflictError(f"Subscription {sub.id} has no scheduled change to cancel.")
        return self._release_schedule(sub, ("cancel_scheduled_change", who, sub))

    def resume(self, subscription: Subscription | str, *, actor: Actor | None = None) -> Subscription:
        """Undo a scheduled cancellation, lift a collection pause, or resume a ``paused`` subscription."""
        who = parse_actor(actor)
        sub = self._require(subscription)
        audit = ("resume", who, sub)
        if sub.status == "paused":
            return self._commit(lambda: plain(call_stripe(
                self._ctx.stripe.v1.subscriptions.resume, sub.id, params={"billing_cycle_anchor": "now"},
                options={"idempotency_key": intent_key("subscription.resume", sub.id, sub.status)})), sub.id,
                audit=audit)
        params: dict[str, Any] = {}
        if sub.cancel_at_period_end or sub.cancel_at is not None:
            params.update(cancel_at_period_end=False)
        if sub.paused:
            params["pause_collection"] = ""
        if not params:
            raise ConflictError(f"Subscription {sub.id} is neither scheduled to cancel nor paused.")
        return self._update(sub, params, "resume", audit)

    def pause(self, subscription: Subscription | str, *, behavior: str = "void",
              resumes_at: datetime | None = None, actor: Actor | None = None) -> Subscription:
        """Pause collection: invoices are voided (default), kept as drafts, or marked uncollectible."""
        pause: dict[str, Any] = {"behavior": validation.choice(behavior, "behavior", PAUSE_BEHAVIORS)}
        if resumes_at is not None:
            pause["resumes_at"] = inputs.future(resumes_at, "resumes_at", self._ctx.now())
        who = parse_actor(actor)
        sub = self._require(subscription)
        return self._update(sub, {"pause_collection": pause}, "pause", ("pause", who, sub))

    def reactivate(self, subscription: Subscription | str, *, actor: Actor | None = None,
                   **options: Any) -> Subscription:
        """After churn: a new subscription for the same customer and the same items. ``options``: those of
        ``create()`` other than the customer and the items. Audited (``subscription.reactivate``: the ended
        subscription before, the new one after)."""
        who = parse_actor(actor)
        unknown = sorted(set(options) - set(REACTIVATE_OPTIONS))
        if unknown:
            raise InvalidInputError(f"reactivate() takes {', '.join(REACTIVATE_OPTIONS)}; not "
                                    f"{validation.echo(unknown[0])}.", param=str(unknown[0])[:40])
        inputs.create_options(self._ctx.now(), **options)
        sub = self._require(subscription)
        if sub.status not in ("canceled", "incomplete_expired"):
            raise ConflictError(f"Subscription {sub.id} is {sub.status}; only an ended one can be reactivated.")
        items = [{"price": i.price, "quantity": i.quantity} for i in sub.items]
        return self._create(sub.customer, price=None, quantity=None, items=items, audit=("reactivate", who, sub),
                            **options)

    # --- reads -------------------------------------------------------------------------------------
    def get(self, subscription_id: str) -> Subscription:
        return self._get(subscription_id, "subscription_id")

    def _get(self, subscription_id: str, param: str) -> Subscription:
        validation.stripe_id(subscription_id, "sub", param)
        with self._ctx.session_factory() as session:
            row = session.scalars(select(BillingSubscription).where(
                BillingSubscription.stripe_id == subscription_id)).first()
            if row is None:
                raise NotFoundError(f"No subscription {subscription_id!r}.", param=param)
            return Subscription.from_row(row)

    def list(self, owner_id: str, *, status: str | None = None,
             active_only: bool = False) -> builtins.list[Subscription]:
        validation.owner_id(owner_id)
        validation.boolean(active_only, "active_only")
        stmt = select(BillingSubscription).where(BillingSubscription.owner_id == owner_id)
        if status is not None:
            stmt = stmt.where(BillingSubscription.status == validation.choice(status, "status", STATUSES))
        if active_only:
            stmt = stmt.where(BillingSubscription.status.in_(("active", "trialing", "past_due")))
        # one statement: the items and the schedule joined in (an owner has a few subscriptions)
        stmt = stmt.order_by(BillingSubscription.id).options(
            defer(BillingSubscription.data), joinedload(BillingSubscription.items).defer(BillingSubscriptionItem.data),
            joinedload(BillingSubscription.schedule_row))
        with self._ctx.session_factory() as session:
            return [Subscription.from_row(r) for r in session.scalars(stmt).unique()]

    def sync(self, obj: Any) -> Subscription:
        """Apply a Stripe subscription (dict or StripeObject) through the one sync path."""
        data = plain(validation.stripe_object(obj, "obj", prefix="sub", kind="subscription"))
        return self._commit(lambda: data, data["id"])

    def fetch(self, subscription_id: str) -> dict[str, Any] | None:
        """The subscription as Stripe has it now; None when Stripe has no such subscription."""
        validation.stripe_id(subscription_id, "sub", "subscription_id")
        try:
            return plain(call_stripe(self._ctx.stripe.v1.subscriptions.retrieve, subscription_id,
                                     params={"expand": EXPAND[1:]}))
        except NotFoundError:
            return None

    def apply(self, session: Session, obj: dict[str, Any], *,
              events: tuple[Mapping[str, Any], ...] = ()) -> Subscription:
        """sync_subscription in the caller's transaction; ``SubscriptionSynced`` (grants, ledger, lifecycle
        signals) with it. ``events``: the Stripe events behind this state, when a webhook brought it."""
        before_row = session.scalars(select(BillingSubscription).where(
            BillingSubscription.stripe_id == obj["id"])).first()
        before = Subscription.from_row(before_row) if before_row is not None else None
        after = Subscription.from_row(sync_subscription(session, obj, now=self._ctx.now()))
        self._ctx.events.publish(session, SubscriptionSynced(before, after, obj, events))
        return after

    def apply_schedule(self, session: Session, obj: dict[str, Any]) -> None:
        """sync_subscription_schedule in the caller's transaction; ``subscription_updated`` (changed
        ``{"scheduled_change"}``) is queued for its commit when the subscription's pending change moved."""
        sub = obj.get("subscription")
        sub_id = (sub.get("id") if isinstance(sub, dict) else sub) or obj.get("released_subscription")
        row = session.scalars(select(BillingSubscription).where(BillingSubscription.stripe_id == sub_id)).first()
        before = Subscription.from_row(row) if row is not None else None
        sync_subscription_schedule(session, obj, now=self._ctx.now())
        if row is None or before is None:
            return
        session.expire(row, ["schedule_row"])
        after = Subscription.from_row(row)
        if after.scheduled_change != before.scheduled_change:
            self._ctx.events.publish(session, ScheduledChangeMoved(after))

    def import_customer(self, customer_id: str) -> int:
        """Sync every subscription of one Stripe customer (``customers.link``): one paginated list call."""
        return import_customer(self, self._ctx, customer_id)

    def mirrors(self) -> builtins.list[Mirror]:
        """Subscriptions, their schedules and Checkout's sign-ups, kept in sync from webhooks."""
        return subscription_mirrors(self, self._customers, self._ctx)

    def reconciler(self) -> Reconciler:
        return subscriptions_reconciler(self, self._customers, self._ctx)

    def gone(self, session: Session, subscription_id: str) -> None:
        """Stripe has no such subscription any more (test data deleted): the local one has ended."""
        before_row = session.scalars(select(BillingSubscription).where(
            BillingSubscription.stripe_id == subscription_id)).first()
        if before_row is None:
            return
        before = Subscription.from_row(before_row)
        row = mark_gone(session, before_row, now=self._ctx.now())
        after = Subscription.from_row(row)
        if after != before:
            self._ctx.events.publish(session, SubscriptionSynced(before, after, row.data))

    def refresh(self, subscription_id: str) -> Subscription | None:
        """Fetch the subscription from Stripe and apply it now (None: gone in Stripe)."""
        data = self.fetch(subscription_id)
        if data is None:
            return None
        return self._commit(lambda: self._refetch(subscription_id), subscription_id)

    # --- internals ---------------------------------------------------------------------------------
    def _commit(self, call: Callable[[], dict[str, Any]], name: str | None = None,
                schedule: dict[str, Any] | None = None, intent: str | None = None,
                audit: Audit | None = None) -> Subscription:
        """Stripe first (``call``), then the local rows, never over a newer state (``freshness.apply_fresh``).
        ``intent``: the create intent this finishes, in the same transaction. ``audit`` (action, actor,
        state before): published as ``SubscriptionChanged`` in that transaction too (the audit log)."""
        def apply(session: Session, data: dict[str, Any]) -> Subscription:
            if intent is not None:
                intents.finish(session, intent, data["id"], self._ctx.now())
            self._sync_invoice(session, data.get("latest_invoice"))
            if schedule is not None:
                self.apply_schedule(session, schedule)
            after = self.apply(session, data)
            if audit is not None:
                self._ctx.events.publish(session, SubscriptionChanged(audit[0], audit[2], after, audit[1]))
            return after

        def first() -> dict[str, Any]:
            data = call()
            self.prepare(data)
            return data
        return apply_fresh(self._ctx, first, apply, refetch=self._refetch, name=name)

    def _refetch(self, subscription_id: str) -> dict[str, Any]:
        data = self.fetch(subscription_id)
        if data is None:
            raise NotFoundError(f"Stripe has no subscription {subscription_id}.", param="subscription")
        self.prepare(data)
        return data

    def prepare(self, data: dict[str, Any] | None) -> None:
        """What applying ``data`` needs from Stripe, before the transaction: its customer, its products."""
        if data is None:
            return
        self._customers.ensure(ref_id(data.get("customer")))
        items = (data.get("items") or {}).get("data") or []
        self._catalog.ensure_products({ref_id((i.get("price") or {}).get("product")) for i in items} - {None})

    def _schedule_change(self, sub: Subscription, item: dict[str, Any], audit: Audit) -> Subscription:
        """Two phases on the subscription's schedule (made from it if it has none): the current items until
        the period end, then the changed items; released after that. Idempotent like the other writes."""
        if sub.cancel_at_period_end or sub.cancel_at is not None:
            raise ConflictError(f"Subscription {sub.id} is scheduled to cancel; resume() it before scheduling "
                                "a change.")
        stripe_v1 = self._ctx.stripe.v1
        current = plain(call_stripe(stripe_v1.subscriptions.retrieve, sub.id))
        now_items = [{"price": i["price"]["id"], **({} if i.get("quantity") is None else {"quantity": i["quantity"]})}
                     for i in current["items"]["data"]]
        new_items = [dict(i) for i in now_items]
        plan = next((n for n, i in enumerate(current["items"]["data"]) if i["id"] == item["id"]), None)
        if plan is None or current["status"] in ("canceled", "incomplete_expired"):
            raise ConflictError(f"Subscription {sub.id} changed in Stripe meanwhile; reconcile and try again.")
        new_items[plan].update({k: v for k, v in item.items() if k in ("price", "quantity")})
        start, end = (current["items"]["data"][plan][k] for k in ("current_period_start", "current_period_end"))
        recurring = plain(call_stripe(stripe_v1.prices.retrieve, new_items[plan]["price"]))["recurring"]
        if current.get("schedule"):
            schedule = plain(call_stripe(stripe_v1.subscription_schedules.retrieve, current["schedule"]))
        else:
            schedule = plain(call_stripe(
                stripe_v1.subscription_schedules.create, params={"from_subscription": sub.id},
                options={"idempotency_key": intent_key("subscription.schedule", sub.id, start, self._version(sub))}))
        phase_start = (schedule.get("current_phase") or {}).get("start_date") or start
        phases = [{"items": now_items, "start_date": phase_start, "end_date": end, "proration_behavior": "none"},
                  {"items": new_items, "proration_behavior": "none",
                   "duration": {"interval": recurring["interval"],
                                "interval_count": recurring.get("interval_count") or 1}}]
        params = {"end_behavior": "release", "proration_behavior": "none", "phases": phases,
                  "expand": _SCHEDULE_EXPAND}
        updated = call_stripe(stripe_v1.subscription_schedules.update, schedule["id"], params=params,
                              options={"idempotency_key": intent_key("subscription.schedule_change", schedule["id"],
                                                                     schedule.get("phases"), params)})
        return self._commit(lambda: plain(call_stripe(stripe_v1.subscriptions.retrieve, sub.id)), sub.id,
                            schedule=plain(updated), audit=audit)

    def _release_schedule(self, sub: Subscription, audit: Audit | None = None) -> Subscription:
        assert sub.schedule is not None
        stripe_v1 = self._ctx.stripe.v1
        try:
            released = call_stripe(stripe_v1.subscription_schedules.release, sub.schedule,
                                   params={"expand": _SCHEDULE_EXPAND},
                                   options={"idempotency_key": intent_key("subscription.schedule_release",
                                                                          sub.schedule)})
        except StripeRequestError:      # already released, completed or canceled: sync what Stripe has
            released = call_stripe(stripe_v1.subscription_schedules.retrieve, sub.schedule,
                                   params={"expand": _SCHEDULE_EXPAND})
        return self._commit(lambda: plain(call_stripe(stripe_v1.subscriptions.retrieve, sub.id)), sub.id,
                            schedule=plain(released), audit=audit)

    def _version(self, sub: Subscription) -> int | None:
        with self._ctx.session_factory() as s:
            return s.scalar(select(BillingSubscription.version).where(BillingSubscription.stripe_id == sub.id))

    def _sync_invoice(self, session: Session, invoice: Any) -> None:
        """The invoice a write returned (expanded), applied only if no state of it was applied yet: any
        state a webhook applied is at least as new as this one."""
        if isinstance(invoice, dict) and invoice.get("id") and claim_fresh(session, invoice["id"], 0):
            self._invoices.apply(session, invoice)

    def _update(self, sub: Subscription, params: dict[str, Any], action: str, audit: Audit) -> Subscription:
        # The key follows the row's version: a double click replays, the same action after another
        # change (cancel, resume, cancel again) is a new request.
        version = self._version(sub)
        state = [sub.status, [(i.price, i.quantity) for i in sub.items], sub.cancel_at_period_end, sub.paused,
                 version]
        return self._commit(lambda: plain(call_stripe(
            self._ctx.stripe.v1.subscriptions.update, sub.id, params=params,
            options={"idempotency_key": intent_key(f"subscription.{action}", sub.id, params, state)})), sub.id,
            audit=audit)

    def _change_items(self, sub: Subscription, price: str | None, quantity: int | None,
                      proration: Proration | None) -> tuple[builtins.list[dict[str, Any]], str]:
        if price is None and quantity is None:
            raise InvalidInputError("change() needs price= and/or quantity=.", param="price")
        if sub.status in ("canceled", "incomplete_expired"):
            raise ConflictError(f"Subscription {sub.id} has ended ({sub.status}); use reactivate().")
        policy = self.default_proration if proration is None else proration
        plan = next((i for i in sub.items if i.usage_type != "metered"), None)
        if plan is None:
            raise ConflictError(f"Subscription {sub.id} has no licensed item to change.")
        item: dict[str, Any] = {"id": plan.id}
        if price is not None:
            item["price"] = resolve_price(self._ctx.stripe, price)["id"]
        if quantity is not None:
            item["quantity"] = quantity
        return [item], PRORATION[policy]

    def _customer(self, ref: Customer | str) -> Customer:
        if isinstance(ref, Customer):
            return ref
        if isinstance(ref, str) and ref.startswith("cus_"):
            return self._customers.get(stripe_id=validation.stripe_id(ref, "cus", "customer"))
        return self._customers.get(owner_id=validation.owner_id(ref, "customer"))

    def _require(self, ref: Subscription | str) -> Subscription:     # the current local state, never a snapshot
        return self._get(ref.id if isinstance(ref, Subscription) else ref, "subscription")
