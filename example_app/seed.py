"""PLACEHOLDER seed: the ``fast-seed`` branch replaces this file with the real history (about 1,500 customers
over 18 months, played through the emulator's clock, in under 60 s). The interface is the contract; only
the body changes.

``seed_history(billing, ...)`` is called on the example's own Billing: the emulator and a FrozenClock it
shares (the app's DemoClock, at the present), the example's catalog synced, no customers yet. The real seed
winds the clock back ``months`` months and plays forward to the present. This placeholder makes no history:
it creates up to :data:`CAP` customers now, through ``billing.testing`` factories, in a mix of plans and
states with some API usage, so the demo logins have someone to show. The app makes its own user rows for
the returned owners (``Linkshelf.adopt_owners``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from billingos.testing import Factory

__all__ = ["CAP", "SeedReport", "SeededOwner", "seed_history"]

CAP = 30            # the placeholder's limit; the real seed makes all of them
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Donald", "Frances",
          "John", "Katherine", "Dennis", "Hedy", "Tim", "Annie", "Niklaus", "Sophie", "Guido")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Torvalds", "Perlman",
         "Knuth", "Allen", "Backus", "Johnson", "Ritchie", "Lamarr", "Easley", "Wirth", "Wilson")
#: (lookup key, seats, state, weight)
_MIX = (("pro_monthly", None, "active", 40), ("pro_yearly", None, "active", 10),
        ("team_monthly", (3, 14), "active", 15), ("free_monthly", None, "active", 15),
        ("pro_monthly", None, "trialing", 10), ("pro_monthly", None, "canceled", 10))


@dataclass
class SeededOwner:
    owner_id: str
    email: str
    name: str


@dataclass
class SeedReport:
    owners: list[SeededOwner]
    seconds: float
    breakdown: dict[str, float] = field(default_factory=dict)     # phase -> seconds


def seed_history(billing: Any, *, customers: int = 1500, months: int = 18, seed: int = 7,
                 progress: bool = True) -> SeedReport:
    started = time.perf_counter()
    rng = random.Random(seed)
    factory = Factory(billing)
    total = max(1, min(int(customers), CAP))
    owners: list[SeededOwner] = []
    bar = _bar(progress, total)
    for n in range(1, total + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        owner = SeededOwner(owner_id=f"usr_seed{n:05d}", email=f"{first.lower()}.{last.lower()}.{n}@example.com",
                            name=f"{first} {last}")
        factory.customer(owner.owner_id, email=owner.email, name=owner.name)
        price, seats, state, _ = rng.choices(_MIX, weights=[m[3] for m in _MIX])[0]
        usage = {"api_calls": rng.randint(50, 4000)} if state == "active" else None
        factory.subscription(owner.owner_id, price=price, state=state,
                             quantity=rng.randint(*seats) if seats else None, usage=usage)
        owners.append(owner)
        bar(n)
    elapsed = time.perf_counter() - started
    return SeedReport(owners=owners, seconds=elapsed, breakdown={"customers": elapsed})


def _bar(enabled: bool, total: int) -> Any:
    if not enabled:
        return lambda done: None
    from rich.progress import Progress
    bar = Progress()
    task = bar.add_task("Seeding the demo customers", total=total)
    bar.start()

    def update(done: int) -> None:
        bar.update(task, completed=done)
        if done >= total:
            bar.stop()
    return update
