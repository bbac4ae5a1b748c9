"""``subscriptions.account(owner_id)``: what an owner's billing overview shows (their customer, subscriptions
with plan names, default card and next invoice) in two SQL statements built once, instead of one ORM read per
service. The portal's overview page reads it on every view, so it stays on SQLAlchemy Core: building and
loading ORM statements cost more than the queries themselves."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, bindparam, false, select

from ..catalog.models import BillingProduct
from ..customers import Customer
from ..customers.models import BillingCustomer
from ..payment_methods.models import BillingPaymentMethod
from ..payment_methods.schemas import PaymentMethod
from .models import BillingSubscription, BillingSubscriptionItem, BillingSubscriptionSchedule
from .schemas import InvoicePreview, Subscription
from .upcoming import UPCOMING_STATUSES, LiveState, UpcomingCache, preview_for

if TYPE_CHECKING:
    from ..context import Context

ENDED = ("canceled", "incomplete_expired")


@dataclass(frozen=True)
class Account:
    """An owner's billing at a glance. ``subscription`` is the live one, else the latest ended one (to
    reactivate); ``plan`` its plan item's product name; ``card`` the customer's default payment method;
    ``upcoming`` Stripe's preview of the next invoice (None when nothing renews)."""

    customer: Customer | None
    subscriptions: list[Subscription]
    subscription: Subscription | None
    plan: str | None
    card: PaymentMethod | None
    upcoming: InvoicePreview | None


class AccountReader:
    """The two statements, built once per service (SQLAlchemy caches their compiled form)."""

    def __init__(self, ctx: Context, cache: UpcomingCache) -> None:
        self._ctx, self._cache = ctx, cache
        c, pm = BillingCustomer.__table__.c, BillingPaymentMethod.__table__.c
        s, i = BillingSubscription.__table__.c, BillingSubscriptionItem.__table__.c
        sched, prod = BillingSubscriptionSchedule.__table__.c, BillingProduct.__table__.c
        owner = bindparam("owner", type_=String)
        self._customer = (
            select(c.stripe_id, c.owner_id, c.email, c.name, c.currency, c.balance, c.delinquent,
                   c.default_payment_method, c.metadata.label("stripe_metadata"), c.stripe_created, c.deleted_at,
                   c.version, pm.stripe_id.label("pm_id"), pm.type.label("pm_type"), pm.brand, pm.last4,
                   pm.exp_month, pm.exp_year, pm.stripe_created.label("pm_created"))
            .outerjoin(BillingPaymentMethod.__table__, and_(
                pm.stripe_id == c.default_payment_method, pm.customer_stripe_id == c.stripe_id,
                pm.owner_id == owner, pm.detached == false()))
            .where(c.owner_id == owner, c.deleted_at.is_(None)))
        self._subscriptions = (
            select(s.id, s.stripe_id, s.customer_stripe_id, s.owner_id, s.status, s.currency,
                   s.cancel_at_period_end, s.cancel_at, s.canceled_at, s.ended_at, s.trial_start, s.trial_end,
                   s.current_period_start, s.current_period_end, s.paused, s.latest_invoice,
                   s.metadata.label("stripe_metadata"), s.stripe_created, s.schedule, s.version,
                   sched.data.label("schedule_data"), i.stripe_id.label("item_id"), i.price_stripe_id,
                   i.price_lookup_key, i.product_stripe_id, i.quantity, i.usage_type,
                   i.current_period_start.label("item_start"), i.current_period_end.label("item_end"),
                   prod.name.label("product_name"))
            .outerjoin(BillingSubscriptionItem.__table__, i.subscription_id == s.id)
            .outerjoin(BillingSubscriptionSchedule.__table__, sched.stripe_id == s.schedule)
            .outerjoin(BillingProduct.__table__, prod.stripe_id == i.product_stripe_id)
            .where(s.owner_id == owner).order_by(s.id, i.id))

    def read(self, owner_id: str) -> Account:
        with self._ctx.session_factory() as session:
            conn = session.connection()
            row = conn.execute(self._customer, {"owner": owner_id}).first()
            rows = list(conn.execute(self._subscriptions, {"owner": owner_id})) if row is not None else []
        customer = Customer.from_row(row) if row is not None else None
        card = None if row is None or row.pm_id is None else PaymentMethod(
            id=row.pm_id, customer=row.stripe_id, owner_id=owner_id, type=row.pm_type, brand=row.brand,
            last4=row.last4, exp_month=row.exp_month, exp_year=row.exp_year, default=True, created=row.pm_created)
        subs, names, live = _subscriptions(rows, row.version if row is not None else None,
                                           row.stripe_id if row is not None else None)
        live_subs = [x for x in subs if x.status not in ENDED]
        current = (live_subs or subs)[-1] if subs else None
        upcoming = preview_for(self._ctx, self._cache, live) if live is not None and current is not None \
            and current.status not in ENDED else None
        return Account(customer=customer, subscriptions=subs, subscription=current,
                       plan=_plan(current, names), card=card, upcoming=upcoming)


def _subscriptions(rows: list[Any], customer_version: int | None,
                   customer_id: str | None) -> tuple[list[Subscription], dict[str, str], LiveState | None]:
    """The joined rows (one per item) as snapshots, the product names by id, and the newest subscription that
    renews as the next-invoice cache keys it."""
    grouped: dict[int, tuple[Any, list[Any]]] = {}
    names: dict[str, str] = {}
    for r in rows:
        _, items = grouped.setdefault(r.id, (r, []))
        if r.item_id is not None:
            items.append(SimpleNamespace(stripe_id=r.item_id, price_stripe_id=r.price_stripe_id,
                                         price_lookup_key=r.price_lookup_key, product_stripe_id=r.product_stripe_id,
                                         quantity=r.quantity, usage_type=r.usage_type,
                                         current_period_start=r.item_start, current_period_end=r.item_end))
        if r.product_stripe_id is not None and r.product_name is not None:
            names[r.product_stripe_id] = r.product_name
    subs, live = [], None
    for r, items in grouped.values():
        schedule = None if r.schedule_data is None else SimpleNamespace(data=r.schedule_data)
        subs.append(Subscription.from_row(SimpleNamespace(**r._mapping, items=items, schedule_row=schedule)))
        if r.status in UPCOMING_STATUSES and not r.cancel_at_period_end and r.cancel_at is None and not r.paused:
            live = LiveState(r.stripe_id, r.version, r.customer_stripe_id, r.status, r.trial_end,
                             r.current_period_end,
                             customer_version if r.customer_stripe_id == customer_id else None,
                             any(i.usage_type == "metered" for i in items))
    return subs, names, live


def _plan(sub: Subscription | None, names: dict[str, str]) -> str | None:
    """The name of the subscription's plan (licensed) item's product, when the catalog mirror has it."""
    item = next((i for i in sub.items if i.usage_type != "metered"), None) if sub is not None else None
    return names.get(item.product or "") if item is not None else None
