"""Invoice previews: the owner's next invoice (``invoices.create_preview`` for the live subscription), and a
change's invoice with when Stripe issues it; ``UpcomingCache``, the previews kept per subscription version."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import exists, select

from ..customers.models import BillingCustomer
from ..invoices import invoice_line
from ..stripe_api import call_stripe, plain
from .models import BillingSubscription, BillingSubscriptionItem
from .schemas import InvoicePreview, PreviewLine, Subscription

if TYPE_CHECKING:
    from ..context import Context


def preview_from(inv: dict[str, Any], when: datetime | None) -> InvoicePreview:
    """A subscription's next invoice, issued ``when`` (its trial's or its period's end)."""
    lines = [invoice_line(ln) for ln in (inv.get("lines") or {}).get("data") or []]
    return InvoicePreview(
        currency=inv["currency"], subtotal=inv.get("subtotal") or 0, total=inv.get("total") or 0,
        amount_due=inv.get("amount_due") or 0, proration_date=None, effective_at=when,
        lines=[PreviewLine(description=ln["description"], amount=ln["amount"], proration=ln["proration"],
                           price=ln["price"], quantity=ln["quantity"], period_start=ln["period_start"],
                           period_end=ln["period_end"]) for ln in lines])


def timed(preview: InvoicePreview, sub: Subscription, *, moment: datetime, policy: str,
          resets: bool) -> InvoicePreview:
    """A change's preview with when Stripe bills it: at once for ``always_invoice`` and for a change of
    billing interval (which also restarts the cycle, ``resets``); else with the invoice at the period end."""
    if policy == "at_period_end":
        return preview.model_copy(update={"amount_due_now": 0, "effective_at": sub.current_period_end,
                                          "invoiced_at": sub.current_period_end})
    now = resets or policy == "always_invoice"
    return preview.model_copy(update={
        "invoiced_now": now, "resets_billing_cycle": resets, "amount_due_now": preview.amount_due if now else 0,
        "invoiced_at": moment if now else sub.current_period_end, "effective_at": moment})


def interval_changes(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two prices bill on different intervals (Stripe then resets the billing cycle anchor and
    invoices at once)."""
    a, b = old.get("recurring") or {}, new.get("recurring") or {}
    return (a.get("interval"), a.get("interval_count") or 1) != (b.get("interval"), b.get("interval_count") or 1)


# --- the upcoming-invoice cache --------------------------------------------------------------------
#: Live statuses whose next invoice the portal previews.
UPCOMING_STATUSES = ("active", "trialing", "past_due")


def upcoming_state(owner_id: str) -> Any:
    """The owner's newest live subscription that renews (not cancelling, not paused) with what its preview
    depends on: its and its customer's row versions, whether it has a metered price, when it is invoiced."""
    s, c, i = BillingSubscription, BillingCustomer, BillingSubscriptionItem
    metered = exists().where(i.subscription_id == s.id, i.usage_type == "metered")
    return (select(s.stripe_id, s.version, s.customer_stripe_id, s.status, s.trial_end, s.current_period_end,
                   c.version.label("customer_version"), metered.label("metered"))
            .outerjoin(c, c.stripe_id == s.customer_stripe_id)
            .where(s.owner_id == owner_id, s.status.in_(UPCOMING_STATUSES), s.cancel_at_period_end.is_(False),
                   s.cancel_at.is_(None), s.paused.is_(False))
            .order_by(s.id.desc()).limit(1))


class LiveState(NamedTuple):
    """The subscription whose next invoice is previewed, with what the preview depends on."""

    stripe_id: str
    version: int
    customer_stripe_id: str
    status: str
    trial_end: datetime | None
    current_period_end: datetime | None
    customer_version: int | None
    metered: bool


@dataclass(frozen=True)
class UpcomingKey:
    """What Stripe's preview of a subscription's next invoice depends on, as the local copy knows it: the
    subscription's row version (its items, quantities, prices, discounts, trial and period: the sync bumps
    it whenever Stripe's object changes) and its customer's (balance, customer discounts, tax details)."""

    subscription: str
    subscription_version: int
    customer: str
    customer_version: int


class UpcomingCache:
    """Previews of subscriptions' next invoices, kept in process per ``UpcomingKey``, so the portal asks
    Stripe once per change instead of once per page view.

    A key holds versions read from the database on every call, so a change synced by any process (a plan
    change, a coupon, a quantity, a balance adjustment) makes the next read miss. An entry also expires after
    ``ttl`` seconds and when the subscription's period ends, which bounds what no local version records
    (e.g. an invoice item added in Stripe's dashboard). Subscriptions with metered prices are never cached:
    their next invoice moves with every usage report. Bounded (least recently used out), thread-safe."""

    def __init__(self, *, ttl: float = 300.0, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[UpcomingKey, tuple[datetime, InvoicePreview]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: UpcomingKey, now: datetime) -> InvoicePreview | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry[0]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: UpcomingKey, preview: InvoicePreview, now: datetime, period_end: datetime | None) -> None:
        expires = now + timedelta(seconds=self.ttl)
        if period_end is not None:
            expires = min(expires, period_end)
        with self._lock:
            self._entries[key] = (expires, preview)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def next_invoice(ctx: Context, cache: UpcomingCache, owner_id: str) -> InvoicePreview | None:
    """``subscriptions.upcoming``: one statement reads the live subscription and its customer's versions;
    Stripe is asked only when ``cache`` has no preview of that state."""
    with ctx.session_factory() as session:
        live = session.execute(upcoming_state(owner_id)).first()
    return None if live is None else preview_for(ctx, cache, LiveState(*live))


def preview_for(ctx: Context, cache: UpcomingCache, live: LiveState) -> InvoicePreview:
    """The next invoice of ``live``: from ``cache`` when it holds that state, else Stripe's preview (kept)."""
    now = ctx.now()
    key = None if live.metered or live.customer_version is None else \
        UpcomingKey(live.stripe_id, live.version, live.customer_stripe_id, live.customer_version)
    found = cache.get(key, now) if key is not None else None
    if found is not None:
        return found
    inv = call_stripe(ctx.stripe.v1.invoices.create_preview,
                      params={"customer": live.customer_stripe_id, "subscription": live.stripe_id})
    issued = live.trial_end if live.status == "trialing" and live.trial_end else live.current_period_end
    preview = preview_from(plain(inv), issued)
    if key is not None:
        cache.put(key, preview, now, live.current_period_end)
    return preview
