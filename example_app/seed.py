"""PLACEHOLDER seed: the ``fast-seed`` branch replaces this file (1,500 customers over 18 months through
the emulator's clock in under 60 s). The interface below is the contract; only the body changes.

``seed_history`` plays a history on the example's own catalog (already synced by the app) from
``billing.now()`` up to the present: the app creates its Billing on a DemoClock set ``months`` months
back when it seeds (``example_app.bootstrap``), so each month's sign-ups, upgrades, cancellations and
renewals happen at their own dates. This placeholder caps the history at :data:`CAP` customers and
uses ``billing.testing`` factories; it returns the owners it created, and the app makes its own user
rows for them (``Linkshelf.adopt_owners``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from billingos import Billing
from billingos.testing import Factory

__all__ = ["CAP", "SeedReport", "SeededOwner", "seed_history"]

CAP = 40            # the placeholder's limit; the real seed makes all of them
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Donald", "Frances",
          "John", "Katherine", "Dennis", "Hedy", "Tim", "Annie", "Niklaus", "Sophie", "Guido")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds", "Perlman",
         "Knuth", "Allen", "Backus", "Johnson", "Ritchie", "Lamarr", "Berners-Lee", "Easley", "Wirth", "Wilson")
_PLANS = (("free_monthly", None, 0.25), ("pro_monthly", None, 0.45), ("pro_yearly", None, 0.1),
          ("team_monthly", (3, 14), 0.2))


@dataclass(frozen=True)
class SeededOwner:
    owner_id: str
    email: str
    name: str


@dataclass
class SeedReport:
    owners: list[SeededOwner]
    seconds: float
    breakdown: dict[str, float] = field(default_factory=dict)


def seed_history(billing: Billing, *, customers: int = 1500, months: int = 18, seed: int = 7,
                 progress: bool = True) -> SeedReport:
    started = time.perf_counter()
    rng = random.Random(seed)
    factory = Factory(billing)
    total = max(0, min(int(customers), CAP))
    months = max(1, int(months))
    end = datetime.now(UTC)
    step = (end - billing.now()) / months if end > billing.now() else timedelta(0)
    owners: list[SeededOwner] = []
    live: list[Any] = []
    timing = {"customers": 0.0, "clock": 0.0}
    bar = _bar(progress, months)
    for month in range(months):
        t0 = time.perf_counter()
        for _ in range(total // months + (1 if month < total % months else 0)):
            owner = _customer(factory, rng, len(owners) + 1)
            owners.append(owner)
            price, seats, _ = rng.choices(_PLANS, weights=[p[2] for p in _PLANS])[0]
            quantity = rng.randint(*seats) if seats else None
            sub = factory.subscription(owner.owner_id, price=price, state="active", quantity=quantity,
                                       usage={"api_calls": rng.randint(50, 4000)})
            live.append(sub)
        if live and rng.random() < 0.6:      # a churned customer now and then
            billing.subscriptions.cancel(live.pop(rng.randrange(len(live))), at_period_end=False)
        timing["customers"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        if step > timedelta(0):
            billing.testing.advance(step)
        timing["clock"] += time.perf_counter() - t0
        bar(month + 1)
    return SeedReport(owners=owners, seconds=time.perf_counter() - started, breakdown=timing)


def _customer(factory: Factory, rng: random.Random, n: int) -> SeededOwner:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    owner = SeededOwner(owner_id=f"usr_seed{n:05d}", email=f"{first.lower()}.{last.lower()}.{n}@example.com",
                        name=f"{first} {last}")
    factory.customer(owner.owner_id, email=owner.email, name=owner.name)
    return owner


def _bar(enabled: bool, total: int) -> Any:
    if not enabled:
        return lambda done: None
    from rich.progress import Progress
    bar = Progress(transient=False)
    task = bar.add_task("Seeding the demo history", total=total)
    bar.start()

    def update(done: int) -> None:
        bar.update(task, completed=done)
        if done >= total:
            bar.stop()
    return update
