"""The bad-input sweep: every public function, every parameter, every bad value, on SQLite and PostgreSQL.

Each call must raise a typed error that names the parameter (or, for the feature checks, answer "no"),
with a short message, and write nothing: not to the database, not to the emulator, not in memory.
"""

from __future__ import annotations

import time

import pytest

from billingos import Billing
from tests.conftest import WEBHOOK_SECRET

from .surface import public_functions, swept
from .sweep import find, foreign, sweep
from .world import World


def _swept() -> list[str]:
    with Billing(database_url="sqlite://", stripe_emulator=True, webhook_secrets=[WEBHOOK_SECRET]) as billing:
        return sorted(f.qualname for f in public_functions(billing) if swept(f))


SWEPT = _swept()


@pytest.mark.parametrize("qualname", SWEPT)
def test_bad_input_is_refused_and_writes_nothing(world: World, qualname: str) -> None:
    started = time.perf_counter()
    failures, runs = sweep(world, find(world, qualname))
    assert runs > 0
    assert not failures, f"{qualname}: {len(failures)} of {runs} bad calls misbehaved " \
                         f"({time.perf_counter() - started:.1f}s):\n  " + "\n  ".join(failures)


def _owned() -> list[str]:
    with Billing(database_url="sqlite://", stripe_emulator=True, webhook_secrets=[WEBHOOK_SECRET]) as billing:
        return sorted(f.qualname for f in public_functions(billing) if f.qualname in SWEPT and foreign(f))


OWNED = _owned()


@pytest.mark.parametrize("qualname", OWNED)
def test_another_owners_object_is_not_found(world: World, qualname: str) -> None:
    """IDOR: with ``owner_id``, another owner's invoice, reservation or usage event is NotFound, exactly
    like an unknown one, and nothing is written."""
    failures = foreign(find(world, qualname), world)
    assert not failures, f"{qualname}: " + "; ".join(failures)


def test_owned_functions_are_found() -> None:
    assert {"invoices.get", "entitlements.commit", "entitlements.release", "usage.adjust"} <= set(OWNED)
