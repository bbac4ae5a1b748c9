from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billingos.clock import FrozenClock
from billingos.emulator import Emulator


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def emulator(clock: FrozenClock) -> Emulator:
    return Emulator(clock=clock)


@pytest.fixture
def client(emulator: Emulator):
    """A real stripe.StripeClient wired to the emulator."""
    return emulator.client()
