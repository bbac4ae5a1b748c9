"""``billing.payment_methods``: an owner's cards. Added through a SetupIntent (Stripe Elements, or the
emulator's stand-in page), removed, made the default; every change reaches the DB through
``sync_payment_method``, on the write path and from ``payment_method.*`` webhooks alike."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer

from .. import validation
from ..actor import Actor, parse_actor
from ..customers.models import BillingCustomer
from ..domain_events import CustomerSynced, PaymentMethodChanged
from ..errors import CardDeclinedError, ConflictError, NotFoundError
from ..freshness import apply_fresh
from ..reconcile import Reconciler
from ..stripe_api import call_stripe, intent_key, plain
from ..subscriptions.models import BillingSubscription
from ..webhooks import Mirror, Sync
from .models import BillingPaymentMethod
from .schemas import PaymentMethod, SetupStart
from .sync import sync_payment_method

if TYPE_CHECKING:
    from ..context import Context
    from ..customers import Customer, CustomerService

EVENTS = ("payment_method.attached", "payment_method.detached", "payment_method.updated",
          "payment_method.automatically_updated")
_PAYING = ("active", "trialing", "past_due", "unpaid", "incomplete")


class PaymentMethodService:
    def __init__(self, ctx: Context, *, customers: CustomerService) -> None:
        self._ctx = ctx
        self._customers = customers
        ctx.events.subscribe_in_transaction(CustomerSynced, self._customer_synced)

    # --- reads ------------------------------------------------------------------------------------
    def list(self, owner_id: str) -> builtins.list[PaymentMethod]:
        """The owner's attached payment methods, newest first; ``default`` marks the one invoices use."""
        validation.owner_id(owner_id)
        pm, c = BillingPaymentMethod, BillingCustomer
        # one statement: the cards of the owner's (not deleted) customer, with that customer's default
        stmt = (select(pm, c.default_payment_method).join(c, c.stripe_id == pm.customer_stripe_id)
                .where(c.owner_id == owner_id, c.deleted_at.is_(None), pm.owner_id == owner_id,
                       pm.detached.is_(False))
                .order_by(pm.stripe_created.desc(), pm.id.desc()).options(defer(pm.data)))
        with self._ctx.session_factory() as session:
            return [PaymentMethod.from_row(r, default=default) for r, default in session.execute(stmt)]

    def get(self, owner_id: str, payment_method_id: str) -> PaymentMethod:
        """One of the owner's payment methods; another owner's (or a detached one) is NotFound."""
        validation.owner_id(owner_id)
        validation.stripe_id(payment_method_id, "pm", "payment_method_id")
        return next((pm for pm in self.list(owner_id) if pm.id == payment_method_id), None) or _missing()

    # --- writes -----------------------------------------------------------------------------------
    def start_setup(self, owner_id: str) -> SetupStart:
        """A SetupIntent for saving a card for future payments (confirm it in the browser, then ``attach``)."""
        validation.owner_id(owner_id)
        customer = self._require_customer(owner_id)
        seti = call_stripe(self._ctx.stripe.v1.setup_intents.create, params={
            "customer": customer.id, "usage": "off_session", "payment_method_types": ["card"],
            "metadata": {"billingos_owner": owner_id}})
        return SetupStart(setup_intent=seti.id, client_secret=str(seti.client_secret))

    def attach(self, owner_id: str, *, setup_intent: str, make_default: bool = True,
               actor: Actor | None = None) -> PaymentMethod:
        """Record the card a confirmed SetupIntent saved (and make it the default). A SetupIntent that failed
        raises CardDeclinedError with Stripe's message; another customer's is NotFound. Audited with
        ``actor`` (once per card)."""
        validation.owner_id(owner_id)
        who = parse_actor(actor)
        validation.stripe_id(setup_intent, "seti", "setup_intent")
        validation.boolean(make_default, "make_default")
        customer = self._require_customer(owner_id)
        seti = plain(call_stripe(self._ctx.stripe.v1.setup_intents.retrieve, setup_intent))
        if seti.get("customer") != customer.id:
            raise NotFoundError(f"No setup intent {setup_intent!r} for this customer.", param="setup_intent")
        if seti.get("status") != "succeeded":
            error = seti.get("last_setup_error") or {}
            if error:
                raise CardDeclinedError(f"The card was not saved: {error.get('message') or 'it was declined'}",
                                        decline_code=error.get("decline_code"))
            raise ConflictError("The card has not been confirmed yet: finish adding it first.")
        pm_id = seti.get("payment_method")
        pm_id = pm_id.get("id") if isinstance(pm_id, dict) else pm_id
        if not isinstance(pm_id, str):
            raise ConflictError("The setup intent saved no payment method.")
        method = self._commit(lambda: self._fetch_required(pm_id), pm_id, audit=("attached", who))
        if make_default and customer.default_payment_method != pm_id:
            self._customers.update(owner_id, default_payment_method=pm_id)
            return method.model_copy(update={"default": True})
        return method

    def set_default(self, owner_id: str, payment_method_id: str, *, actor: Actor | None = None) -> PaymentMethod:
        """Make one of the owner's cards the one invoices are charged to (audited with ``actor`` when it
        was not the default already)."""
        who = parse_actor(actor)
        method = self.get(owner_id, payment_method_id)
        if method.default:
            return method
        self._customers.update(owner_id, default_payment_method=method.id)
        after = method.model_copy(update={"default": True})
        with self._ctx.transaction() as session:   # the customer's own write is the customers service's
            self._ctx.events.publish(session, PaymentMethodChanged("default_set", after, who))
        return after

    def detach(self, owner_id: str, payment_method_id: str, *, actor: Actor | None = None) -> None:
        """Remove a card. The default card cannot be removed while a subscription pays with it: make another
        card the default first (ConflictError says so). Audited with ``actor``."""
        who = parse_actor(actor)
        method = self.get(owner_id, payment_method_id)
        if method.default and self._has_paying_subscription(owner_id):
            raise ConflictError("This card pays for your subscription. Add another card and make it the default "
                                "before removing this one.", param="payment_method_id")
        self._commit(lambda: plain(call_stripe(
            self._ctx.stripe.v1.payment_methods.detach, method.id,
            options={"idempotency_key": intent_key("payment_method.detach", method.id)})), method.id,
            audit=("detached", who))

    # --- sync ---------------------------------------------------------------------------------------
    def sync(self, obj: Any) -> PaymentMethod:
        """Apply a Stripe payment method object (``sync_payment_method``) in its own transaction."""
        data = validation.stripe_object(obj, "obj", prefix="pm", kind="payment_method")
        return self._commit(lambda: data, data["id"])

    def fetch(self, payment_method_id: str) -> dict[str, Any] | None:
        validation.stripe_id(payment_method_id, "pm", "payment_method_id")
        try:
            return plain(call_stripe(self._ctx.stripe.v1.payment_methods.retrieve, payment_method_id))
        except NotFoundError:
            return None

    def mirrors(self) -> builtins.list[Mirror]:
        def apply(session: Session, sync: Sync) -> None:
            if sync.current is not None:
                self.apply(session, sync.current)

        return [Mirror("payment_method", EVENTS, fetch=self.fetch, apply=apply,
                       prepare=lambda current: self._customers.ensure(_customer_of(current)))]

    def _customer_synced(self, session: Session, event: CustomerSynced) -> None:
        """A customer got its owner: its saved cards follow in the same transaction."""
        owner = event.after.owner_id
        if owner is not None and (event.before is None or event.before.owner_id != owner):
            session.execute(update(BillingPaymentMethod).where(
                BillingPaymentMethod.customer_stripe_id == event.after.id,
                BillingPaymentMethod.owner_id.is_distinct_from(owner)).values(owner_id=owner))

    def _listed(self, customer_id: str) -> Iterator[dict[str, Any]]:
        page = call_stripe(self._ctx.stripe.v1.payment_methods.list, params={"customer": customer_id, "limit": 100})
        for obj in page.auto_paging_iter():
            yield plain(obj)

    def import_customer(self, customer_id: str) -> int:
        """Sync every saved payment method of one Stripe customer (``customers.link``): one paginated list."""
        count = 0
        for data in self._listed(customer_id):
            self._commit(lambda data=data: data, data["id"])
            count += 1
        return count

    def reconciler(self) -> Reconciler:
        """Reconcile's ``payment_methods`` kind: Stripe has no account-wide list of saved cards, so each
        mirrored (not deleted) customer's are listed: one paginated list call per customer per run, so it is not
        routine: ``billing.reconcile(kinds=["payment_methods"])`` (``billingos reconcile --kind payment_methods``)
        brings cards saved before billingos (or before the Events API's 30 days) to the portal."""
        from ..customers.models import BillingCustomer

        def listing() -> Iterator[dict[str, Any]]:
            last = 0
            while True:      # keyset pages of local customers: no long-lived read while Stripe is called
                with self._ctx.session_factory() as s:
                    batch = s.execute(select(BillingCustomer.id, BillingCustomer.stripe_id).where(
                        BillingCustomer.id > last, BillingCustomer.deleted_at.is_(None))
                        .order_by(BillingCustomer.id).limit(500)).all()
                if not batch:
                    return
                for _, customer_id in batch:
                    try:
                        yield from self._listed(customer_id)
                    except NotFoundError:   # gone in Stripe: the customers kind decides what that means
                        continue
                last = batch[-1][0]

        def local_ids() -> set[str]:
            with self._ctx.session_factory() as s:
                return set(s.scalars(select(BillingPaymentMethod.stripe_id).where(
                    BillingPaymentMethod.detached.is_(False))))

        def apply(session: Session, obj: dict[str, Any]) -> str | None:
            row = session.scalars(select(BillingPaymentMethod).where(
                BillingPaymentMethod.stripe_id == obj["id"])).first()
            before = None if row is None else (row.owner_id, row.customer_stripe_id, row.detached, row.data)
            after = sync_payment_method(session, obj, now=self._ctx.now())
            if before is None:
                return "created"
            return "updated" if before != (after.owner_id, after.customer_stripe_id, after.detached,
                                           after.data) else None

        return Reconciler("payment_methods", listing, local_ids, apply, self.mirrors()[0], routine=False)

    def apply(self, session: Session, obj: dict[str, Any]) -> PaymentMethod:
        row = sync_payment_method(session, obj, now=self._ctx.now())
        default = self._default_of(session, row.customer_stripe_id)
        return PaymentMethod.from_row(row, default=default)

    # --- helpers ------------------------------------------------------------------------------------
    def _commit(self, call: Any, name: str, audit: tuple[str, Actor] | None = None) -> PaymentMethod:
        """Stripe first (``call``), then the local row; ``audit`` (action, actor): published as
        ``PaymentMethodChanged`` in that transaction (the audit log)."""
        def apply(session: Session, obj: dict[str, Any]) -> PaymentMethod:
            method = self.apply(session, obj)
            if audit is not None:
                self._ctx.events.publish(session, PaymentMethodChanged(audit[0], method, audit[1]))
            return method
        return apply_fresh(self._ctx, call, apply, refetch=self._fetch_required, name=name)

    def _fetch_required(self, payment_method_id: str) -> dict[str, Any]:
        return plain(call_stripe(self._ctx.stripe.v1.payment_methods.retrieve, payment_method_id))

    def _customer(self, owner_id: str) -> Customer | None:
        try:
            return self._customers.get(owner_id=owner_id)
        except NotFoundError:
            return None

    def _require_customer(self, owner_id: str) -> Customer:
        customer = self._customer(owner_id)
        if customer is None:
            raise NotFoundError(f"No customer for owner {owner_id!r}.", param="owner_id")
        return customer

    def _has_paying_subscription(self, owner_id: str) -> bool:
        with self._ctx.session_factory() as session:
            return session.scalar(select(BillingSubscription.id).where(
                BillingSubscription.owner_id == owner_id, BillingSubscription.status.in_(_PAYING),
                BillingSubscription.cancel_at_period_end.is_(False)).limit(1)) is not None

    @staticmethod
    def _default_of(session: Session, customer_id: str | None) -> str | None:
        from ..customers.models import BillingCustomer
        if customer_id is None:
            return None
        return session.scalar(select(BillingCustomer.default_payment_method)
                              .where(BillingCustomer.stripe_id == customer_id))


def _customer_of(obj: dict[str, Any] | None) -> str | None:
    customer = (obj or {}).get("customer")
    return customer.get("id") if isinstance(customer, dict) else customer


def _missing() -> PaymentMethod:
    raise NotFoundError("No such payment method for this customer.", param="payment_method_id")
