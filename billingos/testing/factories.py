"""Factories for host apps' tests: customers, and subscriptions in any state, made the way they happen.

Each state is reached through the real path (a card Stripe declines, a trial that ends, a cancel), against
the emulator, with the webhooks delivered and processed, so the local copy is what production would hold:

    cus = billing_factory.customer()                          # owner "org_test_1", no card
    sub = billing_factory.subscription(state="past_due")      # a trial ended on a declined card
    sub = billing_factory.subscription(cus, price="pro_monthly", usage={"api_calls": 120})
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from .. import validation
from ..customers import Customer
from ..errors import InvalidInputError, NotFoundError
from ..subscriptions import Subscription

if TYPE_CHECKING:
    from ..billing import Billing

__all__ = ["CARDS", "STATES", "Factory"]

#: How each state is reached (the docstring of :meth:`Factory.subscription` says what it costs in time).
STATES = ("trialing", "active", "past_due", "incomplete", "canceled", "paused")
#: Stripe's test payment methods: one that pays, one whose every charge is declined.
CARDS = {"ok": "pm_card_visa", "declined": "pm_card_chargeCustomerFail"}
SHORT_TRIAL = timedelta(hours=1)     # the trial a past_due or paused subscription ends


class Factory:
    """``billing_factory`` in the pytest plugin; ``Factory(billing)`` anywhere else (emulator only)."""

    def __init__(self, billing: Billing) -> None:
        self.billing = billing
        self.kit = billing.testing       # refuses a Billing without the emulator
        self._numbers = itertools.count(1)

    def customer(self, owner_id: str | None = None, *, email: str | None = None, name: str | None = None,
                 card: str | None = None) -> Customer:
        """A customer for ``owner_id`` (default ``org_test_<n>``). ``card``: a Stripe test payment method
        (``"pm_card_visa"``; see :data:`CARDS`) made its default."""
        if owner_id is None:
            owner_id = self._free_owner()
        customer = self.billing.customers.create(owner_id=owner_id, email=email or _email(owner_id), name=name,
                                                 payment_method=card)
        self.kit.drain()
        return self.billing.customers.get(owner_id=customer.owner_id)

    def subscription(self, customer: Customer | str | None = None, *, price: str | None = None,
                     state: str = "active", quantity: int | None = None, usage: Mapping[str, int] | None = None,
                     consumed: Mapping[str, int] | None = None, trial_days: int = 14) -> Subscription:
        """A subscription in ``state`` for ``customer`` (a Customer or owner id; default: a new customer).

        - ``trialing``: a ``trial_days`` trial, no card needed.
        - ``active``: paid at once by a card that works (one is added when the customer has none).
        - ``past_due``: a one-hour trial ends on a declined card: **the clock moves an hour**.
        - ``incomplete``: the first invoice is declined (no trial).
        - ``canceled``: active, then canceled now.
        - ``paused``: a one-hour trial ends with no card, set to pause (Stripe's ``paused`` status):
          **the clock moves an hour**.

        ``price`` is a lookup key or ``price_`` id (default: the catalog's only recurring price).
        ``usage={"api_calls": 120}`` meters that much (``billing.usage.track``, what Stripe bills);
        ``consumed={"api_calls": 100}`` spends that much of the plan's quota (``billing.consume``)."""
        validation.choice(state, "state", STATES)
        validation.integer(trial_days, "trial_days", minimum=1, maximum=730)
        for param, amounts in (("usage", usage), ("consumed", consumed)):
            for key, amount in (amounts or {}).items():
                validation.text(key, param, max_length=255, required=True)
                validation.integer(amount, param, minimum=0, maximum=10**12)
        price = price or self._only_price()
        cus = self._customer(customer)
        subs = self.billing.subscriptions
        if state == "trialing":
            sub = subs.create(cus, price=price, quantity=quantity, trial_days=trial_days)
        elif state in ("past_due", "incomplete", "paused"):
            if state != "paused":
                self._card(cus, CARDS["declined"])
            trial_end = self.billing.now() + SHORT_TRIAL if state != "incomplete" else None
            sub = subs.create(cus, price=price, quantity=quantity, trial_end=trial_end)
            if state == "paused":
                self.billing.stripe.v1.subscriptions.update(sub.id, params={
                    "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}}})
            if trial_end is not None:
                self.kit.advance(SHORT_TRIAL + timedelta(minutes=1))
        else:
            if not cus.default_payment_method:
                self._card(cus, CARDS["ok"])
            sub = subs.create(cus, price=price, quantity=quantity)
            self.kit.drain()
            if state == "canceled":
                sub = subs.cancel(sub, at_period_end=False)
        owner = str(cus.owner_id)
        for meter, amount in (usage or {}).items():
            self.billing.usage.track(owner, meter, amount, idempotency_key=f"billing_factory:{sub.id}:{meter}")
        self.kit.drain()
        for key, amount in (consumed or {}).items():
            self.billing.consume(owner, key, amount, idempotency_key=f"billing_factory:{sub.id}:{key}")
        made = subs.get(sub.id)
        if made.status != state:
            raise RuntimeError(f"billing_factory asked for a {state} subscription and got {made.status}: the "
                               f"customer ({owner}) or the price ({price}) does not allow it.")
        return made

    # --- helpers -----------------------------------------------------------------------------------
    def _customer(self, ref: Customer | str | None) -> Customer:
        if ref is None:
            return self.customer()
        if isinstance(ref, Customer):
            return self.billing.customers.get(owner_id=str(ref.owner_id))
        return self.billing.customers.get(owner_id=ref)

    def _card(self, customer: Customer, card: str) -> None:
        pm = self.billing.stripe.v1.payment_methods.attach(card, params={"customer": customer.id})
        self.billing.customers.update(str(customer.owner_id), default_payment_method=pm.id)

    def _only_price(self) -> str:
        prices = [p for p in self.billing.catalog.prices() if p.type == "recurring"]
        if len(prices) == 1:
            return prices[0].lookup_key or prices[0].id
        names = ", ".join(sorted(p.lookup_key or p.id for p in prices)) or "none: sync a catalog first"
        raise InvalidInputError(f"Give price= (a lookup key or price id); the catalog's recurring prices: {names}.",
                                param="price")

    def _free_owner(self) -> str:
        while True:
            owner = f"org_test_{next(self._numbers)}"
            if not self._exists(owner):
                return owner

    def _exists(self, owner: str) -> bool:
        try:
            self.billing.customers.get(owner_id=owner)
        except NotFoundError:
            return False
        return True


def _email(owner_id: str) -> str:
    local = "".join(c if c.isalnum() or c in "._-" else "-" for c in owner_id)[:60] or "customer"
    return f"{local}@example.com"

