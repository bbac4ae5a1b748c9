"""A seeded generator of SaaS history, driven through the Stripe emulator and its clock, for tests, demos and
the churn model's validation.

    truth = generate_history(billing, customers=250, days=180, seed=7)

Customers sign up over the first third of the period on one of three per-seat plans, use up to three metered
features every day, change seats, and sometimes have their card start failing. Churn comes from a hidden
process that depends on observable behaviour only:

- each day a healthy customer starts *fading* with a small probability (higher with fewer features used);
  a fading customer's usage falls to about 15% within days, it may drop a seat, and it cancels 8 to 28 days
  later (at once, or at the period end);
- a customer whose card starts failing fixes it within a week with probability 0.5; otherwise the
  emulator's dunning runs out and cancels the subscription (failed payments and days past due show it);
- a little churn has no cause at all (noise the model cannot explain).

Everything goes through billingos's public services and the emulator (subscriptions, cards, usage), so the
tables the churn features read are filled exactly as a host's would be. ``HistoryTruth`` keeps the hidden
process's decisions for tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import validation
from .clock import FrozenClock
from .errors import ConfigurationError

__all__ = ["CATALOG", "HistoryTruth", "generate_history"]

#: The generator's catalog: three per-seat plans with API-call and seat limits, three metered features.
CATALOG: dict[str, Any] = {
    "meters": [{"event_name": m, "display_name": m.replace("_", " ").title(), "aggregation": "sum"}
               for m in ("api_calls", "exports", "reports")]
    + [{"event_name": "seats_used", "display_name": "Seats used", "aggregation": "last"}],
    "features": [
        {"key": "api_calls", "name": "API calls", "type": "metered", "meter": "api_calls"},
        {"key": "exports", "name": "Exports", "type": "metered", "meter": "exports"},
        {"key": "reports", "name": "Reports", "type": "metered", "meter": "reports"},
        {"key": "seats", "name": "Seats", "type": "metered", "meter": "seats_used"},
    ],
    "products": [
        {"key": key, "name": key.title(),
         "features": [{"key": "api_calls", "limit": calls}, {"key": "exports", "limit": calls // 10},
                      {"key": "reports", "limit": calls // 10}, {"key": "seats", "limit": seats}],
         "prices": [{"lookup_key": f"{key}_monthly", "currency": "usd", "unit_amount": amount, "interval": "month"},
                    {"lookup_key": f"{key}_yearly", "currency": "usd", "unit_amount": amount * 10, "interval": "year"}]}
        for key, amount, calls, seats in (("starter", 1500, 20_000, 5), ("growth", 4000, 100_000, 20),
                                          ("scale", 9000, 1_000_000, 100))
    ],
}
_METERS = ("api_calls", "exports", "reports")
#: The webhook events the generator's endpoint receives: what the churn features read, nothing more (a host
#: may subscribe to the same short list; every other type only costs time here).
EVENTS = ("customer.created", "customer.updated", "customer.subscription.created", "customer.subscription.updated",
          "customer.subscription.deleted", "invoice.finalized", "invoice.paid", "invoice.payment_failed",
          "invoice.voided", "invoice.marked_uncollectible")
#: Usage is reported every third day, as a host's batch job might (the 7-day window always holds two reports).
USAGE_EVERY = 3


@dataclass
class _Customer:
    owner: str
    signup: int                     # day index
    plan: str
    interval: str                   # most pay yearly: renewals are what the emulator spends its time on
    seats: int
    rate: float                     # API calls a day when healthy
    features: int                   # 1..3 metered features used
    sub: str | None = None
    fading_from: int | None = None
    cancel_on: int | None = None
    card_fails_from: int | None = None
    fixes_card_on: int | None = None
    done: bool = False


@dataclass
class HistoryTruth:
    """The hidden process's decisions, by owner id: when each customer started fading, when the card started
    failing, and on which day the generator canceled (``canceled``) or dunning did (``dunning``)."""

    start: datetime
    end: datetime
    customers: list[str] = field(default_factory=list)
    fading: dict[str, datetime] = field(default_factory=dict)
    card_failing: dict[str, datetime] = field(default_factory=dict)
    canceled: dict[str, datetime] = field(default_factory=dict)


def generate_history(billing: Any, *, customers: int = 250, days: int = 180, seed: int = 7,
                     fade_rate: float = 1 / 130, card_failure_rate: float = 1 / 500,
                     noise_rate: float = 1 / 1500, monthly_share: float = 0.3) -> HistoryTruth:
    """Play ``days`` days of a SaaS business on ``billing`` (emulator and FrozenClock required; its database
    should be empty). Deterministic for a given ``seed``. Returns the hidden process's decisions."""
    validation.integer(customers, "customers", minimum=1, maximum=100_000)
    validation.integer(days, "days", minimum=1, maximum=3660)
    validation.integer(seed, "seed", minimum=0, maximum=2**32 - 1)
    for name, value in (("fade_rate", fade_rate), ("card_failure_rate", card_failure_rate),
                        ("noise_rate", noise_rate), ("monthly_share", monthly_share)):
        validation.seconds(value, name, minimum=0, maximum=1)
    clock = billing.clock
    if billing.emulator is None or not isinstance(clock, FrozenClock):
        raise ConfigurationError("generate_history needs the emulator and a FrozenClock shared with it.")
    from .catalog.schemas import Catalog
    rng = random.Random(seed)
    kit = billing.testing
    if kit.endpoint_id is None:
        kit.connect(mode="manual")      # deliver once a day, in batches: much faster than one by one
        billing.stripe.v1.webhook_endpoints.update(kit.endpoint_id, params={"enabled_events": list(EVENTS)})
    deferred, billing.tasks.deferred = billing.tasks.deferred, True
    try:
        billing.catalog.sync(Catalog.model_validate(CATALOG))
        start = clock.now()
        people = [_Customer(f"org_{i:05d}", rng.randrange(max(1, days // 4)),
                            rng.choices(("starter", "growth", "scale"), (6, 3, 1))[0],
                            "month" if rng.random() < monthly_share else "year", rng.randint(1, 4),
                            rng.lognormvariate(5.0, 0.8), rng.choices((1, 2, 3), (3, 4, 3))[0])
                  for i in range(customers)]
        truth = HistoryTruth(start, start + timedelta(days=days), [p.owner for p in people])
        for day in range(days):
            for p in people:
                if p.signup == day:
                    _sign_up(billing, p)
                elif p.sub is not None and not p.done:
                    _live_day(billing, p, day, rng, truth, fade_rate, card_failure_rate, noise_rate)
            if day % USAGE_EVERY == 0:
                _track_day(billing, [p for p in people if p.sub is not None and not p.done], day, rng)
            clock.set(start + timedelta(days=day + 1))
            billing.emulator.advance_to(clock.now())
            kit.drain()
            _notice_dunning(billing, people, truth)
        return truth
    finally:
        billing.tasks.deferred = deferred
        billing.tasks.run_queued()


def _sign_up(billing: Any, p: _Customer) -> None:
    c = billing.customers.create(owner_id=p.owner, email=f"{p.owner}@example.com")
    pm = billing.stripe.v1.payment_methods.attach("pm_card_visa", params={"customer": c.id})
    billing.customers.update(p.owner, default_payment_method=pm.id)
    p.sub = billing.subscriptions.create(p.owner, price=f"{p.plan}_{p.interval}ly", quantity=p.seats).id


def _live_day(billing: Any, p: _Customer, day: int, rng: random.Random, truth: HistoryTruth, fade_rate: float,
              card_failure_rate: float, noise_rate: float) -> None:
    now = billing.clock.now()
    if p.fading_from is None and rng.random() < fade_rate * (1.8 if p.features == 1 else 1.0):
        p.fading_from, p.cancel_on = day, day + rng.randint(8, 28)
        truth.fading[p.owner] = now
    if p.card_fails_from is None and p.interval == "month" and rng.random() < card_failure_rate:
        p.card_fails_from = day
        truth.card_failing[p.owner] = now
        p.fixes_card_on = day + rng.randint(2, 7) if rng.random() < 0.5 else None
        _set_card(billing, p, "pm_card_chargeCustomerFail")
    if p.fixes_card_on == day:
        _set_card(billing, p, "pm_card_visa")
    if p.fading_from is not None and day == p.fading_from + 5 and p.seats > 1 and rng.random() < 0.5:
        p.seats -= 1
        billing.subscriptions.change(p.sub, quantity=p.seats)
    elif p.fading_from is None and rng.random() < 1 / 120:    # healthy teams grow
        p.seats += 1
        billing.subscriptions.change(p.sub, quantity=p.seats)
    if p.cancel_on == day or rng.random() < noise_rate:
        p.done = True
        truth.canceled[p.owner] = now
        billing.subscriptions.cancel(p.sub, at_period_end=rng.random() < 0.5)


def _set_card(billing: Any, p: _Customer, card: str) -> None:
    c = billing.customers.get(owner_id=p.owner)
    pm = billing.stripe.v1.payment_methods.attach(card, params={"customer": c.id})
    billing.customers.update(p.owner, default_payment_method=pm.id)


def _track_day(billing: Any, live: list[_Customer], day: int, rng: random.Random) -> None:
    now = billing.clock.now()
    events = []
    for p in live:
        level = 1.0
        if p.fading_from is not None:
            level = max(0.15, 1.0 - 0.3 * (day - p.fading_from + 1))
        for j, meter in enumerate(_METERS[: p.features]):
            mean = p.rate * level * USAGE_EVERY * (1.0 if j == 0 else 0.05)
            value = max(0, round(rng.gauss(mean, mean * 0.3)))
            if value:
                events.append({"owner_id": p.owner, "meter": meter, "value": value,
                               "idempotency_key": f"{p.owner}:{meter}:{day}", "timestamp": now})
    if events:
        billing.usage.track_many(events)


def _notice_dunning(billing: Any, people: list[_Customer], truth: HistoryTruth) -> None:
    """Customers whose subscription the emulator's dunning canceled are gone."""
    from sqlalchemy import select

    from .subscriptions.models import BillingSubscription
    failing = {p.sub: p for p in people if p.card_fails_from is not None and not p.done and p.sub}
    if not failing:
        return
    with billing.session_factory() as s:
        ended = s.scalars(select(BillingSubscription.stripe_id).where(
            BillingSubscription.stripe_id.in_(list(failing)),
            BillingSubscription.status.in_(("canceled", "unpaid", "incomplete_expired")))).all()
    for sub in ended:
        failing[sub].done = True
        truth.canceled.setdefault(failing[sub].owner, billing.clock.now())
