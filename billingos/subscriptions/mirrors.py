"""How subscriptions stay in sync from webhooks and reconcile: the ``subscription``,
``subscription_schedule`` and ``checkout.session`` mirrors, and the subscriptions reconciler."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import utc
from ..domain_events import CustomerSynced, TrialWillEnd
from ..errors import NotFoundError
from ..reconcile import Reconciler
from ..stripe_api import call_stripe, plain
from ..webhooks import Mirror, Sync
from .models import BillingSubscription
from .schemas import Subscription

if TYPE_CHECKING:
    from ..context import Context
    from ..customers import CustomerService
    from .service import SubscriptionService

SUBSCRIPTION_EVENTS = ("created", "updated", "deleted", "paused", "resumed", "trial_will_end",
                       "pending_update_applied", "pending_update_expired")
SCHEDULE_EVENTS = ("created", "updated", "released", "canceled", "completed", "aborted", "expiring")
SCHEDULE_EXPAND = ["phases.items.price"]


def subscription_mirrors(subs: SubscriptionService, customers: CustomerService, ctx: Context) -> list[Mirror]:
    def apply(session: Session, sync: Sync) -> None:
        if sync.current is None:
            subs.gone(session, sync.object_id)
            return
        after = subs.apply(session, sync.current, events=sync.events)
        for event in sync.events:
            if event["type"] == "customer.subscription.trial_will_end":
                ctx.events.publish(session, TrialWillEnd(after, utc(event["data"]["object"].get("trial_end"))))

    def fetch_schedule(schedule_id: str) -> dict[str, Any] | None:
        try:
            return plain(call_stripe(ctx.stripe.v1.subscription_schedules.retrieve, schedule_id,
                                     params={"expand": SCHEDULE_EXPAND}))
        except NotFoundError:
            return None

    def apply_schedule(session: Session, sync: Sync) -> None:
        if sync.current is not None:
            subs.apply_schedule(session, sync.current)

    return [
        Mirror("subscription", tuple(f"customer.subscription.{n}" for n in SUBSCRIPTION_EVENTS),
               fetch=subs.fetch, apply=apply, prepare=subs.prepare,
               final=lambda obj: obj.get("status") in ("canceled", "incomplete_expired")),
        Mirror("subscription_schedule", tuple(f"subscription_schedule.{n}" for n in SCHEDULE_EVENTS),
               fetch=fetch_schedule, apply=apply_schedule),
        # A completed Checkout Session never changes (its payload is final): its customer is linked to
        # the host's owner id and its subscription applied, each under its own object's freshness.
        Mirror("checkout.session", ("checkout.session.completed",), fetch=lambda sid: None,
               apply=lambda session, sync: None, final=lambda obj: True,
               prepare=lambda session_obj: _checkout_completed(subs, customers, ctx, session_obj)),
    ]


def _checkout_completed(subs: SubscriptionService, customers: CustomerService, ctx: Context,
                        session_obj: dict[str, Any] | None) -> None:
    if not session_obj:
        return
    owner, customer_id = session_obj.get("client_reference_id"), session_obj.get("customer")
    if isinstance(owner, str) and owner and isinstance(customer_id, str):
        key = ctx.config.owner_metadata_key
        customer = call_stripe(ctx.stripe.v1.customers.update, customer_id, params={"metadata": {key: owner}},
                               options={"idempotency_key": f"billingos:checkout-owner:{session_obj['id']}"})
        customers.sync(customer)
    if isinstance(session_obj.get("subscription"), str):
        subs.refresh(session_obj["subscription"])


def subscriptions_reconciler(subs: SubscriptionService, customers: CustomerService, ctx: Context) -> Reconciler:
    def listing() -> Iterator[dict[str, Any]]:
        page = call_stripe(ctx.stripe.v1.subscriptions.list, params={"limit": 100, "status": "all"})
        for obj in page.auto_paging_iter():
            yield plain(obj)

    def local_ids() -> set[str]:
        with ctx.session_factory() as s:
            return set(s.scalars(select(BillingSubscription.stripe_id)))

    def removable_ids() -> set[str]:
        # an ended subscription missing in Stripe has nothing left to remove (it is not "removed" again)
        with ctx.session_factory() as s:
            return set(s.scalars(select(BillingSubscription.stripe_id).where(
                BillingSubscription.status.not_in(("canceled", "incomplete_expired")))))

    def apply(session: Session, obj: dict[str, Any]) -> str | None:
        row = session.scalars(select(BillingSubscription).where(BillingSubscription.stripe_id == obj["id"])).first()
        before = Subscription.from_row(row) if row is not None else None
        after = subs.apply(session, obj)
        return "created" if before is None else ("updated" if before != after else None)

    return Reconciler("subscriptions", listing, local_ids, apply, subscription_mirrors(subs, customers, ctx)[0],
                      removable_ids=removable_ids)


def follow_owner(subs: SubscriptionService, session: Session, event: CustomerSynced) -> None:
    """A customer got its owner (linked after its subscriptions were mirrored): they follow it in the same
    transaction, grants included, instead of waiting for each one's next sync."""
    owner = event.after.owner_id
    if owner is None or (event.before is not None and event.before.owner_id == owner):
        return
    session.flush()
    rows = session.scalars(select(BillingSubscription).where(
        BillingSubscription.customer_stripe_id == event.after.id, BillingSubscription.owner_id.is_distinct_from(owner)))
    for row in list(rows):
        subs.apply(session, row.data)


def import_customer(subs: SubscriptionService, ctx: Context, customer_id: str) -> int:
    page = call_stripe(ctx.stripe.v1.subscriptions.list,
                       params={"customer": customer_id, "status": "all", "limit": 100})
    count = 0
    for obj in page.auto_paging_iter():
        subs.sync(obj)
        count += 1
    return count
