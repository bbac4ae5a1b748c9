from __future__ import annotations

from typing import Any

import pytest

from billingos.emulator import Emulator


@pytest.fixture
def client(emulator: Emulator) -> Any:
    """A real stripe.StripeClient wired to the emulator (``emulator`` and ``clock`` come from tests/conftest.py)."""
    return emulator.client()
