"""The example's first-start history: about 1,500 customers over 18 months, played through the Stripe
emulator's clock and billingos's sync, so the analytics, insights and alerts show real pictures at once.

    report = seed_history(billing, customers=1500, months=18, seed=7)

The clock is wound back ``months`` months and played forward to where it was. Everything goes through
billingos's public services and the emulator: customers and cards, trials, subscriptions and their changes
and cancellations (the write path), renewals, trial ends, failed payments and dunning (the emulator's own
billing-cycle engine, as time moves), invoices and subscription states (its webhooks, through billingos's
sync), and usage (``usage.track_many``, pushed to the Stripe meter as the periodic job does).

What the customers do (each from its own seeded random stream):

- sign-ups rise over the period (about four times as many in the last month as in the first); most start
  the app's 14-day Pro trial without a card, the others buy at once;
- about 60% of the trials add a card and pick a plan (Pro or per-seat Team, monthly or yearly), the rest
  let the trial end;
- healthy customers grow (Team seats, Pro to Team, monthly to yearly) and a few downgrade;
- a hidden churn process reads only what billingos can see: a customer starts *fading* (more often when
  it uses little), its API calls fall to a tenth within three weeks, it may shed seats or drop to Pro, and
  it cancels two to eight weeks later; a card that starts failing is fixed after the failed renewal by
  about half, the rest are canceled by the emulator's dunning; a little churn has no cause;
- some churned customers come back months later (reactivation).

Speed: deliveries are batched (webhooks drained every four simulated weeks, so the events about one object
are applied with one fetch), the seed's endpoint receives only the event types billingos syncs from, the
emulator's state file is written once at the end, and time jumps straight from one action to the next
(the emulator runs whatever fell due in between, in order). ``bench/seed.py`` times it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select

from billingos import validation
from billingos.clock import FrozenClock
from billingos.errors import BillingError, ConfigurationError, ConflictError, StripeRequestError

__all__ = ["SeedReport", "SeededOwner", "seed_history"]

DAY = timedelta(days=1)
TRIAL_DAYS = 14
#: Webhook deliveries are drained (and usage reported, as a daily job's batch) every TICK of simulated time.
TICK = timedelta(days=7)
#: Usage is pushed to Stripe's meter every PUSH_EVERY ticks (the periodic job, less often).
PUSH_EVERY = 4
#: Webhooks are drained every DRAIN_EVERY ticks: the events about one object in that time are applied
#: together (a renewal's subscription and invoice events, a change made through the write path and the
#: webhook for it), and the ledger still gets each event's object at its own time.
DRAIN_EVERY = 4
#: The event types the seed's endpoint receives: what billingos's sync, ledger and features read. Each
#: mirror fetches the object's current state when it applies, so one event after an object's last change
#: is enough: ``invoice.created`` (a draft) and ``invoice.updated`` add nothing the later ones don't carry.
EVENTS = ("customer.created", "customer.updated", "customer.subscription.created",
          "customer.subscription.updated", "customer.subscription.deleted", "invoice.finalized",
          "invoice.paid", "invoice.payment_failed", "invoice.voided", "invoice.marked_uncollectible",
          "payment_method.attached", "payment_method.detached")      # the portal's cards
#: Webhook jobs one claim takes during the seed (billingos's default is tuned for live traffic).
SEED_BATCH = 500
SEED_URL = "https://example-app.invalid/seed/webhooks"     # in-process receiver only: never over a network
PLANS = (("pro_monthly", 34), ("pro_yearly", 24), ("team_monthly", 22), ("team_yearly", 20))
ENDED = ("canceled", "incomplete_expired", "unpaid")

_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam",
          "Maya", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wen", "Yara")
_LAST = ("Adeyemi", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
         "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva", "Tanaka", "Weber")
_ORG = ("Labs", "Studio", "Works", "Analytics", "Cloud", "Systems", "Health", "Robotics", "Media", "Logistics")


@dataclass
class SeededOwner:
    owner_id: str
    email: str
    name: str


@dataclass
class SeedReport:
    owners: list[SeededOwner]
    seconds: float
    breakdown: dict[str, float]     # phase -> seconds


@dataclass
class _Person:
    n: int
    owner: SeededOwner
    rng: random.Random
    rate: float                     # API calls a day when healthy
    price: str = "pro_monthly"
    seats: int = 1
    sub: str | None = None
    live: bool = False              # has a subscription that has not ended
    leaving: bool = False           # a cancellation is requested (or dunning is deciding)
    fading_from: datetime | None = None
    card_failing: bool = False
    metered: bool = False           # Pro monthly with the metered API-call item (its plan stays as it is)
    churns: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def team(self) -> bool:
        return self.price.startswith("team")


class _Timer:
    """Seconds spent per phase."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - start


def seed_history(billing: Any, *, customers: int = 1500, months: int = 18, seed: int = 7,
                 progress: bool = True) -> SeedReport:
    """Play ``months`` months of the example's business on ``billing`` (the emulator and a FrozenClock it
    shares; the example's catalog synced; no customers yet), ending at the clock's present. Deterministic
    for a given ``seed`` (Stripe's ids aside). Returns the owners created, the time taken and its phases."""
    validation.integer(customers, "customers", minimum=1, maximum=100_000)
    validation.integer(months, "months", minimum=1, maximum=120)
    validation.integer(seed, "seed", minimum=0, maximum=2**32 - 1)
    validation.boolean(progress, "progress")
    clock, em = billing.clock, billing.emulator
    if em is None or not isinstance(clock, FrozenClock) or em.clock is not clock:
        raise ConfigurationError("seed_history needs the Stripe emulator and a FrozenClock shared with it "
                                 "(Billing(clock=FrozenClock(...), emulator=Emulator(clock=that clock))).")
    from billingos.errors import NotFoundError
    for key in [k for k, _ in PLANS] + ["pro_api_calls"]:
        try:
            billing.catalog.price(key)
        except NotFoundError:
            raise ConfigurationError(f"seed_history needs the example's catalog synced first (no price {key!r}).") \
                from None
    started = time.perf_counter()
    timer = _Timer()
    run = _Run(billing, clock, timer, customers, months, seed)
    try:
        with timer.phase("setup"):
            run.setup()
        run.play(progress)
    finally:
        with timer.phase("finish"):
            run.finish()
    return SeedReport([p.owner for p in run.people], time.perf_counter() - started, dict(timer.phases))


def _months_before(when: datetime, months: int) -> datetime:
    month = when.month - 1 - months
    year, month = when.year + month // 12, month % 12 + 1
    day = min(when.day, 28)
    return when.replace(year=year, month=month, day=day)


def _owner(seed: int, n: int, rng: random.Random) -> SeededOwner:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    digest = hashlib.sha256(f"example-seed:{seed}:{n}".encode()).hexdigest()
    org = f"{last} {rng.choice(_ORG)}"
    return SeededOwner(owner_id=f"usr_{digest[:20]}",
                       email=f"{first.lower()}.{last.lower()}.{n}@{last.lower()}-{digest[:4]}.example",
                       name=f"{first} {last} ({org})")


class _Run:
    """One seeding: the people, the action queue, and the plumbing set up for the duration."""

    def __init__(self, billing: Any, clock: FrozenClock, timer: _Timer, customers: int, months: int,
                 seed: int) -> None:
        self.billing, self.clock, self.em, self.timer = billing, clock, billing.emulator, timer
        self.end = clock.now()
        self.start = _months_before(self.end, months)
        self.span = (self.end - self.start).total_seconds()
        self.queue: list[tuple[datetime, int, Callable[[_Person], None], _Person]] = []
        self.seq = 0
        self.people: list[_Person] = []
        self.seed = seed
        growth = 1.4                                  # e^1.4: four times the sign-ups at the end
        for n in range(customers):
            rng = random.Random(f"{seed}:{n}")
            u = rng.random()
            at = self.start + timedelta(seconds=self.span * math.log1p(u * math.expm1(growth)) / growth)
            at = min(at, self.end - DAY)
            p = _Person(n, _owner(seed, n, rng), rng, rate=rng.lognormvariate(4.6, 0.9))
            self.people.append(p)
            self.later(at, self.sign_up, p)
        self._restore: list[Callable[[], None]] = []

    # --- plumbing ----------------------------------------------------------------------------------
    def setup(self) -> None:
        """Rewind the clock; deliver to an endpoint of the seed's own (the app's are disabled meanwhile),
        in manual mode, with webhook jobs deferred to the drains; the state file written once at the end.
        Each change registers its undo as it is made, so ``finish`` restores whatever was changed."""
        billing, em, undo = self.billing, self.em, self._restore
        client = em.client()
        self.clock.rewind(self.start)
        state_path, em.state_path = em.state_path, None
        undo.append(lambda: _save_state(em, state_path))
        deferred, billing.tasks.deferred = billing.tasks.deferred, True
        undo.append(lambda: setattr(billing.tasks, "deferred", deferred))
        queue = billing.jobs.queues["webhooks"]
        batch, queue.batch = queue.batch, SEED_BATCH
        undo.append(lambda: setattr(queue, "batch", batch))
        enabled = [ep.id for ep in client.v1.webhook_endpoints.list(params={"limit": 100}).data
                   if ep.status == "enabled"]
        for ep_id in enabled:
            client.v1.webhook_endpoints.update(ep_id, params={"disabled": True})
            undo.append(partial(client.v1.webhook_endpoints.update, ep_id, params={"disabled": False}))
        ep = client.v1.webhook_endpoints.create(params={"url": SEED_URL, "enabled_events": list(EVENTS),
                                                        "description": "example_app.seed"})
        undo.append(lambda: client.v1.webhook_endpoints.delete(ep.id))
        secrets = list(billing.config.webhook_secrets)
        if secrets:
            em.webhooks.set_endpoint_secrets(ep.id, [secrets[0]])
        em.webhooks.connect_batch(SEED_URL, self._receive if secrets else self._store)
        undo.append(lambda: em.webhooks.disconnect(SEED_URL))
        mode, em.webhooks.mode = em.webhooks.mode, "manual"
        undo.append(lambda: setattr(em.webhooks, "mode", mode))

    def _receive(self, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
        """A drain's deliveries, verified and stored in one transaction (a refused one answers its 400)."""
        return [a.status if isinstance(a, BillingError) else 200
                for a in self.billing.webhooks.receive_many(deliveries)]

    def _store(self, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[int]:
        self.billing.webhooks.store_many([json.loads(body) for body, _ in deliveries], source="webhook")
        return [200] * len(deliveries)

    def later(self, at: datetime, fn: Callable[[_Person], None], p: _Person) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, fn, p))

    # --- the loop ----------------------------------------------------------------------------------
    def play(self, progress: bool) -> None:
        bar = _bar(progress, int(self.span // 86400))
        tick, ticks = self.start + TICK, 0
        with bar:
            while True:
                at = self.queue[0][0] if self.queue else self.end
                if tick <= at or not self.queue:
                    if tick > self.end:
                        break
                    self.move_to(tick)
                    ticks += 1
                    self.tick(push=ticks % PUSH_EVERY == 0, drain=ticks % DRAIN_EVERY == 0)
                    bar.update((tick - self.start).days, self._live())
                    tick += TICK
                    continue
                _, _, fn, p = heapq.heappop(self.queue)
                if at > self.end:
                    continue
                self.move_to(at)
                with self.timer.phase("customer actions (API, write path)"):
                    try:
                        fn(p)
                    except (ConflictError, StripeRequestError):
                        if not self.ended_in_stripe(p):
                            raise
                        self.gone(p)    # dunning ended it meanwhile; the next drain would have said so
            self.move_to(self.end)
            self.tick(push=True, drain=True)
            bar.update(int(self.span // 86400), self._live())

    def move_to(self, at: datetime) -> None:
        if at <= self.clock.now():
            return
        with self.timer.phase("emulator billing cycle (renewals, retries, trial ends)"):
            self.clock.set(at)
            self.em.advance_to(at)

    def tick(self, *, push: bool, drain: bool) -> None:
        billing = self.billing
        with self.timer.phase("usage (track_many)"):
            self.track_usage()
        if push:
            with self.timer.phase("usage push to the Stripe meter"):
                while billing.usage.push(limit=100_000).sent:
                    pass
        if not drain:
            return
        with self.timer.phase("webhook sync (deliver, store, apply)"):
            billing.testing.drain(max_rounds=10_000)
        with self.timer.phase("customer actions (API, write path)"):
            self.notice_dunning()

    def finish(self) -> None:
        try:
            if self.clock.now() < self.end:
                self.clock.set(self.end)
            self.billing.testing.drain(max_rounds=10_000)
        finally:
            for fn in reversed(self._restore):
                fn()
            self.billing.tasks.run_queued()

    def _live(self) -> int:
        return sum(1 for p in self.people if p.live)

    # --- usage ---------------------------------------------------------------------------------------
    def track_usage(self) -> None:
        now = self.clock.now()
        events = []
        for p in self.people:
            if not p.live:
                continue
            level = 1.0
            if p.fading_from is not None:
                level = max(0.08, 1.0 - (now - p.fading_from) / timedelta(days=21))
            mean = p.rate * level * (TICK / DAY) * (1.6 if p.team else 1.0)
            value = max(0, round(p.rng.gauss(mean, mean * 0.35)))
            if value:
                events.append({"owner_id": p.owner.owner_id, "meter": "api_calls", "value": value,
                               "idempotency_key": f"seed:{p.owner.owner_id}:{now.isoformat()}",
                               "timestamp": now - timedelta(hours=1)})
        if events:
            self.billing.usage.track_many(events)

    # --- what customers do ----------------------------------------------------------------------------
    def sign_up(self, p: _Person) -> None:
        b, rng = self.billing, p.rng
        buys_now = rng.random() < 0.25
        b.customers.create(owner_id=p.owner.owner_id, email=p.owner.email, name=p.owner.name,
                           payment_method="pm_card_visa" if buys_now else None)
        if buys_now:
            self.choose_plan(p)
            self.subscribe(p)
            p.history.append("bought")
            self.later(self.clock.now() + timedelta(days=rng.uniform(20, 40)), self.review, p)
            return
        p.sub = b.subscriptions.create(p.owner.owner_id, price="pro_monthly", trial_days=TRIAL_DAYS).id
        p.live = True
        p.history.append("trial")
        if rng.random() < 0.6:
            self.later(self.clock.now() + timedelta(days=rng.uniform(2, 12)), self.convert, p)
        else:
            self.later(self.clock.now() + timedelta(days=rng.uniform(4, 12)), self.abandon_trial, p)

    def choose_plan(self, p: _Person) -> None:
        rng = p.rng
        p.price = rng.choices([k for k, _ in PLANS], [w for _, w in PLANS])[0]
        p.seats = min(60, 3 + int(rng.lognormvariate(1.4, 0.8))) if p.team else 1

    def subscribe(self, p: _Person) -> None:
        b = self.billing
        p.metered = p.price == "pro_monthly"
        items: list[dict[str, Any]]
        if p.metered:       # a monthly metered item: only on a monthly plan (Stripe wants one interval)
            items = [{"price": p.price}, {"price": "pro_api_calls"}]
        else:
            items = [{"price": p.price, "quantity": p.seats}]
        p.sub = b.subscriptions.create(p.owner.owner_id, items=items).id
        p.live, p.leaving, p.fading_from, p.card_failing = True, False, None, False

    def convert(self, p: _Person) -> None:
        if not p.live or p.sub is None:
            return
        self.set_card(p, "pm_card_visa")
        self.choose_plan(p)
        if p.price != "pro_monthly" or p.seats != 1:
            self.billing.subscriptions.change(p.sub, price=p.price, quantity=p.seats)
        p.history.append(f"converted:{p.price}")
        self.later(self.clock.now() + timedelta(days=TRIAL_DAYS + p.rng.uniform(10, 30)), self.review, p)

    def abandon_trial(self, p: _Person) -> None:
        if p.live and p.sub is not None:
            self.billing.subscriptions.cancel(p.sub, at_period_end=True)
            p.leaving = True
            p.history.append("trial_ended")
            self.later(self.clock.now() + timedelta(days=TRIAL_DAYS), self.gone, p)

    def review(self, p: _Person) -> None:
        """A month in a customer's life: the hidden process decides what it does next."""
        if not p.live or p.leaving or p.sub is None:
            return
        rng, b, now = p.rng, self.billing, self.clock.now()
        nxt = now + timedelta(days=rng.uniform(24, 36))
        low_use = p.rate < 60
        if p.fading_from is None and rng.random() < 0.045 * (2.0 if low_use else 1.0):
            p.fading_from = now
            p.history.append("fading")
            self.later(now + timedelta(days=rng.uniform(10, 20)), self.shrink, p)
            self.later(now + timedelta(days=rng.uniform(14, 56)), self.cancel, p)
            return
        if p.fading_from is not None:
            return
        if not p.card_failing and p.price.endswith("monthly") and rng.random() < 0.03:
            p.card_failing = True
            p.history.append("card_failing")
            self.set_card(p, "pm_card_chargeCustomerFail")
            if rng.random() < 0.5:
                end = b.subscriptions.get(p.sub).current_period_end or now
                self.later(max(end, now) + timedelta(days=rng.uniform(1, 9)), self.fix_card, p)
        elif rng.random() < 0.004:
            self.later(now + timedelta(days=rng.uniform(1, 20)), self.cancel, p)     # no cause at all
        elif p.team and rng.random() < 0.12:
            p.seats += rng.choice((1, 1, 2, 3))
            b.subscriptions.change(p.sub, quantity=p.seats)
            p.history.append("seats_up")
        elif p.metered:
            pass
        elif p.price == "pro_monthly" and rng.random() < 0.05:
            self.change_plan(p, "team_monthly", 3 + rng.randrange(4), "upgrade")
        elif p.price == "pro_monthly" and rng.random() < 0.02:
            self.change_plan(p, "pro_yearly", 1, "yearly")
        elif p.price == "team_monthly" and rng.random() < 0.015:
            self.change_plan(p, "pro_monthly", 1, "downgrade")
        self.later(nxt, self.review, p)

    def change_plan(self, p: _Person, price: str, seats: int, why: str) -> None:
        assert p.sub is not None
        p.price, p.seats = price, seats
        self.billing.subscriptions.change(p.sub, price=price, quantity=seats)
        p.history.append(why)

    def shrink(self, p: _Person) -> None:
        """A fading customer trims what it pays for before it leaves."""
        if not p.live or p.sub is None or p.rng.random() < 0.5:
            return
        if p.team and p.seats > 3:
            p.seats -= max(1, p.seats // 3)
            self.billing.subscriptions.change(p.sub, quantity=p.seats)
            p.history.append("seats_down")
        elif p.price == "team_monthly":
            self.change_plan(p, "pro_monthly", 1, "downgrade")

    def cancel(self, p: _Person) -> None:
        if not p.live or p.leaving or p.sub is None:
            return
        b, rng = self.billing, p.rng
        at_end = rng.random() < 0.65
        b.subscriptions.cancel(p.sub, at_period_end=at_end)
        p.leaving = True
        p.history.append("canceled")
        if at_end:
            end = b.subscriptions.get(p.sub).current_period_end or self.clock.now()
            self.later(max(end, self.clock.now()), self.gone, p)
        else:
            self.gone(p)

    def gone(self, p: _Person) -> None:
        """The subscription ended: some come back months later."""
        if not p.live:
            return
        p.live, p.churns = False, p.churns + 1
        paid = "bought" in p.history or any(h.startswith("converted") for h in p.history)
        if p.churns == 1 and paid and p.rng.random() < 0.14:
            self.later(self.clock.now() + timedelta(days=p.rng.uniform(30, 150)), self.come_back, p)

    def come_back(self, p: _Person) -> None:
        if p.live or p.sub is None:
            return
        old = self.billing.subscriptions.get(p.sub)
        if old.status not in ("canceled", "incomplete_expired"):
            return
        self.set_card(p, "pm_card_visa")
        p.sub = self.billing.subscriptions.reactivate(p.sub).id
        p.live, p.leaving, p.fading_from, p.card_failing = True, False, None, False
        p.history.append("reactivated")
        self.later(self.clock.now() + timedelta(days=p.rng.uniform(24, 36)), self.review, p)

    def fix_card(self, p: _Person) -> None:
        if p.live and p.card_failing:
            self.set_card(p, "pm_card_visa")
            p.card_failing = False
            p.history.append("card_fixed")
            self.pay_open_invoice(p)
            self.later(self.clock.now() + timedelta(days=p.rng.uniform(20, 35)), self.review, p)

    def pay_open_invoice(self, p: _Person) -> None:
        """The customer updates its card in the portal: the open invoice is retried now, as Stripe does."""
        from billingos.invoices.models import BillingInvoice
        with self.billing.session_factory() as s:
            open_ids = s.scalars(select(BillingInvoice.stripe_id).where(
                BillingInvoice.subscription_stripe_id == p.sub, BillingInvoice.status == "open")).all()
        for inv in open_ids:
            self.billing.stripe.v1.invoices.pay(inv)

    def set_card(self, p: _Person, card: str) -> None:
        b = self.billing
        c = b.customers.get(owner_id=p.owner.owner_id)
        pm = b.stripe.v1.payment_methods.attach(card, params={"customer": c.id})
        b.customers.update(p.owner.owner_id, default_payment_method=pm.id)

    def ended_in_stripe(self, p: _Person) -> bool:
        return p.sub is not None and self.billing.stripe.v1.subscriptions.retrieve(p.sub).status in ENDED

    def notice_dunning(self) -> None:
        """Subscriptions the emulator's dunning ended (or trials that ended without a card) are gone."""
        from billingos.subscriptions.models import BillingSubscription
        watch = {p.sub: p for p in self.people if p.live and p.sub is not None}
        if not watch:
            return
        with self.billing.session_factory() as s:
            ended = s.scalars(select(BillingSubscription.stripe_id).where(
                BillingSubscription.status.in_(ENDED),
                BillingSubscription.stripe_id.in_(list(watch)))).all()
        for sub in ended:
            p = watch[sub]
            if p.card_failing and "dunning" not in p.history:
                p.history.append("dunning")
            self.gone(p)


def _save_state(em: Any, path: Any) -> None:
    """Put the emulator's state file back and write it once, with everything the seed made."""
    em.state_path = path
    if path is not None:
        em._save()      # the emulator writes its file after each request; the seed held that off


class _Bar:
    def __init__(self, progress: bool, days: int) -> None:
        self.progress, self.days = progress, days
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if self.progress:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            self._bar = Progress(TextColumn("Seeding history"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total} days"),
                                 TextColumn("{task.fields[live]} live subscriptions"), TimeElapsedColumn())
            self._bar.__enter__()
            self._task = self._bar.add_task("seed", total=self.days, live=0)
        return self

    def update(self, day: int, live: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=min(day, self.days), live=live)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _bar(progress: bool, days: int) -> _Bar:
    return _Bar(progress, days)

