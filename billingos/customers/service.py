"""Customers keyed by the host's owner id: Stripe first (idempotent), then the local row, then signals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .. import intents, validation
from ..actor import Actor, parse_actor
from ..clock import utc
from ..db import upsert
from ..domain_events import CustomerLinked, CustomerSynced
from ..errors import ConflictError, InvalidInputError, NotFoundError, StripeRequestError, StripeUnavailableError
from ..freshness import apply_fresh
from ..reconcile import Reconciler
from ..stripe_api import call_stripe, intent_key, plain, ref_id
from ..webhooks import Mirror, Sync
from .models import BillingCustomer
from .schemas import Customer, Erasure, LinkConflict, LinkReport, Page

if TYPE_CHECKING:
    from ..context import Context

_UNSET: Any = object()
_LINK_BATCH = 100_000   # link_many() validates every pair before the first write: a bounded batch

#: ``importer(stripe_customer_id) -> int``: pull one customer's objects of a kind from Stripe (see ``link``).
Importer = Callable[[str], int]


def sync_customer(session: Session, obj: dict[str, Any], *, owner_key: str, now: datetime,
                  before: BillingCustomer | Any | None = _UNSET) -> BillingCustomer | None:
    """The one way a Stripe customer reaches the DB (write path and webhooks alike). ``before``: the
    current row when the caller has read it already (None: there is none)."""
    if before is _UNSET:
        before = session.scalars(select(BillingCustomer).where(BillingCustomer.stripe_id == obj["id"])).first()
    if before is not None and before.erased_at is not None:   # customers.erase(): never import the person again
        from .personal_data import forget_events
        from .redact import needles, personal_strings, redact
        obj = redact(obj, needles(personal_strings(obj)))
        forget_events(session, obj["id"])
    if obj.get("deleted"):
        if before is not None and before.deleted_at is None:
            before.deleted_at = now
        return before
    meta = dict(obj.get("metadata") or {})
    owner = meta.get(owner_key)
    if owner is not None and (before is None or before.owner_id != owner):
        holder = session.scalars(select(BillingCustomer.stripe_id).where(BillingCustomer.owner_id == owner)).first()
        if holder is not None and holder != obj["id"]:
            owner = None  # a second Stripe customer claims the owner: keep the first mapping
    settings = obj.get("invoice_settings") or {}
    values = {
        "stripe_id": obj["id"], "owner_id": owner, "email": obj.get("email"), "name": obj.get("name"),
        "currency": obj.get("currency"), "balance": obj.get("balance") or 0,
        "delinquent": bool(obj.get("delinquent")),
        "default_payment_method": ref_id(settings.get("default_payment_method")),
        "test_clock": ref_id(obj.get("test_clock")), "livemode": bool(obj.get("livemode")), "stripe_metadata": meta,
        "data": obj, "stripe_created": utc(obj.get("created")), "synced_at": now,
        "version": 1 if before is None else before.version + (before.data != obj),
    }
    update = [c for c in values if c != "stripe_id" and not (c == "owner_id" and owner is None)]
    if before is not None and all(getattr(before, c) == values[c] for c in update if c != "synced_at"):
        return before  # every column already holds this (a duplicate or replayed event): no write
    return upsert(session, BillingCustomer, values, key=["stripe_id"], update=update)



class CustomerService:
    """``billing.customers``: create, get, list, update and delete customers by owner id."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._importers: list[Importer] = []
        c = BillingCustomer      # every column but the Stripe object (``data``): what _find reads, built once
        self._columns = select(*[getattr(c, a.key) for a in c.__mapper__.column_attrs if a.key != "data"])

    def add_importer(self, importer: Importer) -> None:
        """Register how ``link()`` brings one kind of a customer's objects (subscriptions, invoices, cards)
        under its owner at once: ``importer(stripe_customer_id)`` lists them in Stripe and syncs each."""
        self._importers.append(validation.callable_(importer, "importer"))

    # --- writes -----------------------------------------------------------------------------
    def create(self, *, owner_id: str, email: str | None = None, name: str | None = None,
               metadata: dict[str, str] | None = None, payment_method: str | None = None,
               test_clock: str | None = None) -> Customer:
        """The owner's Stripe customer, created once. ``payment_method`` (a ``pm_`` id or a test card such
        as ``pm_card_visa``) is attached and becomes the default for invoices.

        A retry after a failure (the local commit, the network) is the same intent with the same
        idempotency key; only a retry past Stripe's 24 h key window searches Stripe for the owner first
        (search is eventually consistent and rate-limited; where it does not exist, the customer list
        by email is read instead)."""
        owner_id = validation.owner_id(owner_id)
        params: dict[str, Any] = {"email": validation.email(email), "name": validation.text(name, "name")}
        meta = validation.metadata(metadata)
        key = self._ctx.config.owner_metadata_key
        if key in meta:
            raise InvalidInputError(f"metadata key {key!r} is reserved for the owner id.", param="metadata")
        params["metadata"] = {**meta, key: owner_id}
        if payment_method is not None:
            params["payment_method"] = validation.stripe_id(payment_method, "pm", "payment_method")
        if test_clock is not None:
            params["test_clock"] = validation.stripe_id(test_clock, "clock", "test_clock")
        existing = self._find(owner_id=owner_id)
        if existing is not None:
            raise ConflictError(f"Owner {owner_id!r} already has customer {existing.stripe_id}; use "
                                "customers.get() or customers.update().", param="owner_id")
        # one owner, one customer: the key follows the request alone, so concurrent and later retries share it
        intent = intents.begin(self._ctx, "customer.create", owner_id, params,
                               key=intent_key("customer.create", owner_id, params))
        sent = {k: v for k, v in params.items() if v is not None}

        def create() -> dict[str, Any]:
            return plain(call_stripe(self._ctx.stripe.v1.customers.create, params=sent,
                                     options={"idempotency_key": intent.key}))

        def find() -> dict[str, Any] | None:      # only past the window: search is slow to see new customers
            found = self._stripe_existing(owner_id, params["email"])
            return None if found is None else plain(found)

        def made() -> dict[str, Any]:
            late = intent.past_idempotency(self._ctx.now())
            return self._default_payment_method(intents.make(self._ctx, intent, create, find if late else None),
                                                payment_method, intent.key)

        def apply(session: Session, data: dict[str, Any]) -> Customer | None:
            intents.finish(session, intent.key, data["id"], self._ctx.now())
            return self.apply(session, data)
        snapshot = apply_fresh(self._ctx, made, apply, refetch=self.fetch)
        if snapshot is None:
            raise NotFoundError("The customer was deleted in Stripe while it was being created.")
        return snapshot

    def _default_payment_method(self, customer: dict[str, Any], payment_method: str | None,
                                key: str) -> dict[str, Any]:
        """Make the attached payment method the invoices' default. Stripe attaches a test card such as
        ``pm_card_visa`` as a new ``pm_...`` object, so the default is set to what was attached, after."""
        if payment_method is None or (customer.get("invoice_settings") or {}).get("default_payment_method"):
            return customer
        attached = call_stripe(self._ctx.stripe.v1.payment_methods.list,
                               params={"customer": customer["id"], "limit": 1}).data
        if not attached:
            return customer
        return plain(call_stripe(
            self._ctx.stripe.v1.customers.update, customer["id"],
            params={"invoice_settings": {"default_payment_method": attached[0]["id"]}},
            options={"idempotency_key": f"{key}:default_payment_method"}))

    def update(self, owner_id: str, *, email: str | None = _UNSET, name: str | None = _UNSET,
               metadata: dict[str, str] | None = None, default_payment_method: str | None = _UNSET) -> Customer:
        row = self._require(owner_id)
        params: dict[str, Any] = {}
        if email is not _UNSET:
            params["email"] = validation.email(email) or ""
        if name is not _UNSET:
            params["name"] = validation.text(name, "name") or ""
        if metadata is not None:
            meta = validation.metadata(metadata)
            if self._ctx.config.owner_metadata_key in meta:
                raise InvalidInputError("the owner id metadata key cannot be changed.", param="metadata")
            params["metadata"] = meta
        if default_payment_method is not _UNSET:
            pm = None if default_payment_method is None else validation.stripe_id(default_payment_method, "pm",
                                                                                   "default_payment_method")
            params["invoice_settings"] = {"default_payment_method": pm or ""}     # None clears it
        if not params:
            raise InvalidInputError("update() needs at least one of email, name, metadata, "
                                    "default_payment_method.")
        return self._commit(lambda: plain(call_stripe(
            self._ctx.stripe.v1.customers.update, row.stripe_id, params=params,
            options={"idempotency_key": intent_key("customer.update", row.stripe_id, params, row.version)})),
            row.stripe_id)

    def delete(self, owner_id: str) -> Customer:
        """Delete the customer in Stripe (which cancels its subscriptions) and mark the row deleted."""
        row = self._require(owner_id)
        return self._commit(lambda: plain(call_stripe(self._ctx.stripe.v1.customers.delete, row.stripe_id)),
                            row.stripe_id)

    # --- data-subject requests (personal_data.py, docs/personal-data.md) ---------------------------
    def export_personal_data(self, owner_id: str) -> dict[str, Any]:
        """Everything billingos stores about the owner, JSON-ready: the customer, subscriptions, invoices,
        cards (brand, last4, expiry), usage, entitlements, MRR history, survey answers, emails, insights,
        churn scores, API keys and audit entries. NotFoundError when the owner has no customer."""
        from .personal_data import PersonalData
        return PersonalData(self._ctx).export(owner_id)

    def erase(self, owner_id: str, *, actor: Actor | None = None, delete_in_stripe: bool = False) -> Erasure:
        """Pseudonymise the owner's personal data in every billingos table, keep the financial records,
        mark the customer erased (later Stripe events never bring the person back), record
        ``customer.erased`` and send ``signals.customer_erased``. ``delete_in_stripe=True`` deletes the
        customer in Stripe first. Idempotent. NotFoundError when the owner has no customer."""
        from .personal_data import PersonalData
        return PersonalData(self._ctx).erase(owner_id, actor=actor, delete_in_stripe=delete_in_stripe)

    # --- adopting existing Stripe customers -------------------------------------------------------
    def link(self, stripe_customer_id: str, owner_id: str, *, force: bool = False,
             actor: Actor | None = None) -> Customer:
        """Put an existing Stripe customer under ``owner_id``: the owner id is written into the customer's
        metadata (``owner_metadata_key``) in Stripe, the customer is mirrored, and its subscriptions,
        invoices and saved cards are listed in Stripe and synced under the owner now (so entitlements answer
        at once, without waiting for a reconcile). Idempotent: linking a customer to the owner it already
        has writes nothing in Stripe and re-imports its objects.

        ConflictError when the customer is linked to another owner, or the owner already has another
        customer; ``force=True`` moves the link (the other customer's metadata key is removed in Stripe).
        NotFoundError for a customer Stripe does not have or has deleted. The audit log records
        ``customer.linked`` with ``actor`` (default: the system); ``signals.customer_linked`` fires."""
        customer_id, owner, force, who = self._link_args(stripe_customer_id, owner_id, force, actor)
        customer, _ = self._link(customer_id, owner, force=force, actor=who)
        return customer

    def link_many(self, pairs: Iterable[tuple[str, str]], *, force: bool = False, dry_run: bool = False,
                  progress: Callable[[int, int], None] | None = None, actor: Actor | None = None) -> LinkReport:
        """Link many ``(owner_id, stripe_customer_id)`` pairs (a migration's user table): each as
        ``link()``, safe to run again (linked ones come back as ``already_linked``). Every pair is validated
        before the first write (InvalidInputError names the row; an owner or a customer twice in the batch
        too); a pair Stripe refuses (a conflict, a deleted customer) is reported in ``conflicts`` and the
        others go on. ``dry_run``: read Stripe and report what a run would do, write nothing.
        ``progress(done, total)`` after each pair."""
        validation.boolean(force, "force")
        validation.boolean(dry_run, "dry_run")
        if progress is not None:
            validation.callable_(progress, "progress")
        who = parse_actor(actor)
        checked = self._link_pairs(pairs)
        linked: list[str] = []
        already: list[str] = []
        conflicts: list[LinkConflict] = []
        for n, (owner, customer_id) in enumerate(checked, 1):
            try:
                if dry_run:
                    outcome = self._link_plan(customer_id, owner, force=force)[2]
                else:
                    outcome = self._link(customer_id, owner, force=force, actor=who)[1]
            except (ConflictError, NotFoundError) as e:
                conflicts.append(LinkConflict(owner_id=owner, stripe_customer_id=customer_id, reason=str(e)))
            else:
                (already if outcome == "already_linked" else linked).append(customer_id)
            if progress is not None:
                progress(n, len(checked))
        return LinkReport(linked=linked, already_linked=already, conflicts=conflicts, dry_run=dry_run)

    def _link_pairs(self, pairs: Any) -> list[tuple[str, str]]:
        if isinstance(pairs, (str, bytes, dict)) or not isinstance(pairs, Iterable):
            raise InvalidInputError("pairs must be an iterable of (owner_id, stripe_customer_id) pairs, got "
                                    f"{validation.echo(pairs)}.", param="pairs")
        checked: list[tuple[str, str]] = []
        owners: set[str] = set()
        customers: set[str] = set()
        for n, pair in enumerate(pairs):
            if n >= _LINK_BATCH:
                raise InvalidInputError(f"link_many() takes at most {_LINK_BATCH} pairs per call; split the "
                                        "file.", param="pairs")
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InvalidInputError(f"pair {n + 1} must be (owner_id, stripe_customer_id), got "
                                        f"{validation.echo(pair)}.", param="pairs")
            try:
                owner = validation.owner_id(pair[0])
                customer_id = validation.stripe_id(pair[1], "cus", "stripe_customer_id")
            except InvalidInputError as e:
                raise InvalidInputError(f"pair {n + 1}: {e}", param="pairs") from None
            if owner in owners or customer_id in customers:
                raise InvalidInputError(f"pair {n + 1}: {owner if owner in owners else customer_id!r} appears "
                                        "twice in the batch; one owner, one customer.", param="pairs")
            owners.add(owner)
            customers.add(customer_id)
            checked.append((owner, customer_id))
        return checked

    @staticmethod
    def _link_args(customer_id: Any, owner_id: Any, force: Any, actor: Any) -> tuple[str, str, bool, Actor]:
        return (validation.stripe_id(customer_id, "cus", "stripe_customer_id"), validation.owner_id(owner_id),
                validation.boolean(force, "force"), parse_actor(actor))

    def _link_plan(self, customer_id: str, owner: str, *,
                   force: bool) -> tuple[dict[str, Any], Any | None, str]:
        """Read-only: the Stripe customer, the local customer the owner has now (another one), and the
        outcome ("linked" or "already_linked"); ConflictError/NotFoundError as ``link`` raises them."""
        current = self._current(customer_id)
        if current is None:
            raise NotFoundError(f"Stripe has no customer {customer_id!r} (or it is deleted): nothing to link.",
                                param="stripe_customer_id")
        linked_to = (current.get("metadata") or {}).get(self._ctx.config.owner_metadata_key) or None
        if linked_to is not None and linked_to != owner and not force:
            raise ConflictError(f"Stripe customer {customer_id} is linked to another owner ({linked_to!r}); "
                                "pass force=True to move it.", param="stripe_customer_id")
        holder = self._find(owner_id=owner)
        if holder is not None and holder.stripe_id == customer_id:
            holder = None
        if holder is not None and holder.deleted_at is None and not force:
            raise ConflictError(f"Owner {owner!r} already has customer {holder.stripe_id}; one owner, one "
                                "customer (force=True unlinks that one).", param="owner_id")
        mine = self._find(stripe_id=customer_id)
        done = linked_to == owner and holder is None and mine is not None and mine.owner_id == owner
        return current, holder, "already_linked" if done else "linked"

    def _link(self, customer_id: str, owner: str, *, force: bool, actor: Actor) -> tuple[Customer, str]:
        current, holder, outcome = self._link_plan(customer_id, owner, force=force)
        key = self._ctx.config.owner_metadata_key
        linked_to = (current.get("metadata") or {}).get(key) or None
        if holder is not None and holder.deleted_at is None and \
                (self._current(holder.stripe_id) or {}).get("metadata", {}).get(key) == owner:
            call_stripe(self._ctx.stripe.v1.customers.update, holder.stripe_id, params={"metadata": {key: ""}},
                        options={"idempotency_key": intent_key("customer.unlink", holder.stripe_id, owner)})
        previous = self._find(stripe_id=customer_id)
        # the owner it had: the local link, else (never mirrored) another owner's key in Stripe
        previous_owner = previous.owner_id if previous is not None else (linked_to if linked_to != owner else None)

        def write() -> dict[str, Any]:
            if linked_to == owner:
                return current
            return plain(call_stripe(
                self._ctx.stripe.v1.customers.update, customer_id, params={"metadata": {key: owner}},
                options={"idempotency_key": intent_key("customer.link", customer_id, owner, linked_to)}))

        def apply(session: Session, data: dict[str, Any]) -> Customer | None:
            if holder is not None:     # the owner's other (deleted, or forced off) customer lets go of it
                session.execute(update(BillingCustomer).where(
                    BillingCustomer.stripe_id == holder.stripe_id).values(owner_id=None))
            row = session.scalars(select(BillingCustomer).where(BillingCustomer.stripe_id == customer_id)).first()
            if row is not None and row.owner_id not in (None, owner):
                row.owner_id = None     # forced: sync_customer keeps a mapping it cannot see is moving
                session.flush()
            snapshot = self.apply(session, data)
            if snapshot is None or snapshot.owner_id != owner:
                raise ConflictError(f"Stripe customer {customer_id} could not be linked to {owner!r}.",
                                    param="stripe_customer_id")
            if previous_owner != owner or previous is None or previous.owner_id != owner:
                self._ctx.events.publish(session, CustomerLinked(actor, previous_owner, snapshot))
            return snapshot
        try:
            snapshot = apply_fresh(self._ctx, write, apply, refetch=self.fetch, name=customer_id)
        except ConflictError:       # a concurrent link took the owner meanwhile: take our key back in Stripe
            if linked_to != owner:
                call_stripe(self._ctx.stripe.v1.customers.update, customer_id,
                            params={"metadata": {key: linked_to or ""}})
            raise
        assert snapshot is not None
        for importer in self._importers:
            importer(customer_id)
        return snapshot, outcome

    def sync(self, obj: Any) -> Customer:
        """Apply a Stripe customer object (a dict or a StripeObject) to the DB and fire signals."""
        data = plain(validation.stripe_object(obj, "obj", prefix="cus", kind="customer"))
        return self._commit(lambda: data, data["id"])

    def fetch(self, customer_id: str) -> dict[str, Any]:
        """The customer as Stripe has it now; Stripe's deleted stub when it is gone (a 404 too)."""
        validation.stripe_id(customer_id, "cus", "customer_id")
        return self._current(customer_id) or _deleted(customer_id)

    def _current(self, customer_id: str) -> dict[str, Any] | None:
        try:
            found = plain(call_stripe(self._ctx.stripe.v1.customers.retrieve, customer_id))
        except NotFoundError:
            return None
        return None if found.get("deleted") else found

    # --- webhooks and reconcile ---------------------------------------------------------------
    def mirrors(self) -> list[Mirror]:
        def apply(session: Session, sync: Sync) -> None:
            self.apply(session, sync.current or _deleted(sync.object_id))
        return [Mirror("customer", ("customer.created", "customer.updated", "customer.deleted"),
                       fetch=self._current, apply=apply, final=lambda obj: bool(obj.get("deleted")))]

    def reconciler(self) -> Reconciler:
        def listing() -> Iterator[dict[str, Any]]:
            for obj in call_stripe(self._ctx.stripe.v1.customers.list, params={"limit": 100}).auto_paging_iter():
                yield plain(obj)

        def local_ids() -> set[str]:
            with self._ctx.session_factory() as s:
                return set(s.scalars(select(BillingCustomer.stripe_id).where(BillingCustomer.deleted_at.is_(None))))

        def apply(session: Session, obj: dict[str, Any]) -> str | None:
            row = session.scalars(select(BillingCustomer).where(BillingCustomer.stripe_id == obj["id"])).first()
            before = None if row is None else Customer.from_row(row)
            after = self.apply(session, obj)
            return "created" if before is None else ("updated" if before != after else None)

        return Reconciler("customers", listing, local_ids, apply, self.mirrors()[0])

    def ensure(self, customer_id: str | None) -> None:
        """Make sure a customer that another object refers to is local (an invoice or subscription event
        may arrive before the customer's own): fetched and applied once, outside the caller's transaction."""
        if customer_id is None or self._find(stripe_id=validation.stripe_id(customer_id, "cus", "customer_id")):
            return
        self._commit(lambda: self.fetch(customer_id), customer_id, missing_ok=True)

    # --- reads ------------------------------------------------------------------------------
    def get(self, *, owner_id: str | None = None, stripe_id: str | None = None) -> Customer:
        if (owner_id is None) == (stripe_id is None):
            raise InvalidInputError("customers.get() takes exactly one of owner_id= or stripe_id=.", param="owner_id")
        if owner_id is not None:
            validation.owner_id(owner_id)
        else:
            validation.stripe_id(stripe_id, "cus", "stripe_id")
        row = self._find(owner_id=owner_id, stripe_id=stripe_id)
        if row is None or row.deleted_at is not None:
            raise NotFoundError(f"No customer for {'owner_id' if owner_id else 'stripe_id'}="
                                f"{owner_id or stripe_id!r}. Create it with customers.create().")
        return Customer.from_row(row)

    def list(self, *, limit: int = 50, after: str | None = None, email: str | None = None,
             search: str | None = None, include_deleted: bool = False) -> Page[Customer]:
        """Keyset pagination, oldest first. ``search`` matches email, name or owner id (substring)."""
        validation.limit(limit, maximum=1000)
        validation.boolean(include_deleted, "include_deleted")
        start = validation.cursor_row(after, "c") or 0
        stmt = select(BillingCustomer).where(BillingCustomer.id > start).order_by(BillingCustomer.id).limit(limit + 1)
        if email is not None:
            stmt = stmt.where(BillingCustomer.email == validation.email(email))
        if search is not None:
            term = f"%{_escape_like(validation.text(search, 'search', required=True) or '')}%"
            stmt = stmt.where(or_(BillingCustomer.email.ilike(term, escape="\\"),
                                  BillingCustomer.name.ilike(term, escape="\\"),
                                  BillingCustomer.owner_id.ilike(term, escape="\\")))
        if not include_deleted:
            stmt = stmt.where(BillingCustomer.deleted_at.is_(None))
        with self._ctx.session_factory() as session:
            rows, cursor = validation.keyset_page(list(session.scalars(stmt)), limit, "c")
        return Page[Customer](items=[Customer.from_row(r) for r in rows], next_cursor=cursor)

    # --- internals --------------------------------------------------------------------------
    def _commit(self, call: Any, name: str | None = None, *, missing_ok: bool = False) -> Customer:
        """Stripe first, then the local row (``freshness.apply_fresh``: never over a newer state)."""
        snapshot = apply_fresh(self._ctx, call, self.apply, refetch=self.fetch, name=name)
        if snapshot is None and not missing_ok:
            raise NotFoundError(f"Customer {name} is deleted in Stripe and was never synced.")
        return snapshot  # type: ignore[return-value]

    def apply(self, session: Session, data: dict[str, Any]) -> Customer | None:
        """sync_customer in the caller's transaction; ``CustomerSynced`` (created/updated signals) after it."""
        before = session.scalars(select(BillingCustomer).where(BillingCustomer.stripe_id == data["id"])).first()
        old = None if before is None else Customer.from_row(before)
        row = sync_customer(session, data, owner_key=self._ctx.config.owner_metadata_key, now=self._ctx.now(),
                            before=before)
        if row is None:  # a deletion of a customer we never had
            return None
        snapshot = Customer.from_row(row)
        if old != snapshot:
            self._ctx.events.publish(session, CustomerSynced(old, snapshot))
        return snapshot

    def _find(self, *, owner_id: str | None = None, stripe_id: str | None = None) -> Any | None:
        """The row's columns (not the Stripe object ``data``) as a read-only row with the model's attribute
        names: a plain row costs a fraction of an ORM entity, and it is read on every event's ``ensure``."""
        c = BillingCustomer
        stmt = self._columns.where(c.owner_id == owner_id if owner_id is not None else c.stripe_id == stripe_id)
        with self._ctx.session_factory() as session:
            return session.execute(stmt).first()

    def _require(self, owner_id: str) -> Any:
        validation.owner_id(owner_id)
        row = self._find(owner_id=owner_id)
        if row is None or row.deleted_at is not None:
            raise NotFoundError(f"No customer for owner_id={owner_id!r}. Create it with customers.create().")
        return row

    def _stripe_existing(self, owner_id: str, email: str | None) -> Any | None:
        """The owner's customer already in Stripe (a retry past the idempotency window): found by search,
        or, where search does not exist (a 404, e.g. localstripe), among the customers with its email."""
        key = self._ctx.config.owner_metadata_key
        try:
            found = call_stripe(self._ctx.stripe.v1.customers.search,
                                params={"query": f"metadata['{key}']:'{_quote(owner_id)}'", "limit": 1})
            return found.data[0] if found.data else None
        except StripeUnavailableError:
            raise
        except (StripeRequestError, NotFoundError):
            pass                                 # no search here: fall back to the list
        if email is None:
            return None      # nothing to list by: the idempotency key is all there is
        listed = call_stripe(self._ctx.stripe.v1.customers.list, params={"email": email, "limit": 100})
        mine = (c for c in map(plain, listed.auto_paging_iter()) if (c.get("metadata") or {}).get(key) == owner_id)
        return next(mine, None)


def _deleted(customer_id: str) -> dict[str, Any]:
    return {"id": customer_id, "object": "customer", "deleted": True}




def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
