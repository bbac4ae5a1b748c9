"""The pytest plugin for host apps (registered as ``pytest11``: installing billingos loads it).

Fixtures, each overridable by a fixture of the same name in your conftest.py:

- ``billing_options``: keyword arguments for ``Billing`` (default: a fresh SQLite file per test). Override
  it to use your app's database: ``return {"engine": my_engine}``.
- ``billing_catalog``: your catalog (a file path, a ``Catalog`` or a dict) synced before each test;
  default None.
- ``billing_clock``: a ``FrozenClock`` at 2026-01-15 12:00 UTC shared by billingos and the emulator.
- ``emulator``: the Stripe emulator on that clock.
- ``billing``: a migrated ``Billing`` on all of the above whose webhooks are delivered and processed.
- ``deliver_webhooks``: ``deliver_webhooks(app)`` sends them through your app's own webhook route instead.
- ``advance``: ``advance(days=31)`` moves time, then runs what fell due (renewals, retries, webhooks, jobs).
- ``billing_factory``: ``.customer()`` and ``.subscription(state="past_due", usage={...})``.
- ``mail_outbox``: the emails billingos sends (``billingos.OutboxMailer``, ``billing``'s mailer, the same
  object as ``billing.testing.outbox``): ``mail_outbox.sent("payment_failed")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ..billing import Billing
from ..clock import FrozenClock
from ..emulator import Emulator
from ..notifications import OutboxMailer
from .factories import Factory

__all__ = ["START", "WEBHOOK_SECRET"]

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WEBHOOK_SECRET = "whsec_billingos_pytest_plugin"


@pytest.fixture
def billing_options(tmp_path: Path) -> dict[str, Any]:
    """``Billing`` keyword arguments. Override to use your own database or settings."""
    return {"database_url": f"sqlite:///{tmp_path / 'billing.db'}"}


@pytest.fixture
def billing_catalog() -> Any:
    """Your catalog, synced before each test (a TOML/YAML path, a ``Catalog`` or a dict); None: none."""
    return None


@pytest.fixture
def billing_clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def emulator(billing_clock: FrozenClock) -> Emulator:
    return Emulator(clock=billing_clock)


@pytest.fixture
def mail_outbox() -> OutboxMailer:
    """Every email billingos sends in the test (``.messages``, ``.sent(template, to=...)``, ``.clear()``)."""
    return OutboxMailer()


@pytest.fixture
def billing(billing_options: dict[str, Any], billing_catalog: Any, billing_clock: FrozenClock,
            emulator: Emulator, mail_outbox: OutboxMailer) -> Iterator[Billing]:
    options: dict[str, Any] = {"emulator": emulator, "clock": billing_clock, "webhook_secrets": [WEBHOOK_SECRET],
                               "mailer": mail_outbox, **billing_options}
    b = Billing(**options)
    try:
        b.migrate()
        b.testing.connect()      # until deliver_webhooks(app): straight to billing.webhooks.receive
        if billing_catalog is not None:
            b.catalog.sync(billing_catalog)
        yield b
    finally:
        b.close()


@pytest.fixture
def deliver_webhooks(billing: Billing) -> Callable[..., str]:
    """``deliver_webhooks(app)``: every webhook the emulator sends from now on is a signed POST through
    your app's own route (a Flask or FastAPI app, or its test client). Same arguments as
    ``billing.testing.connect``."""
    return billing.testing.connect


@pytest.fixture
def advance(billing: Billing) -> Callable[..., datetime]:
    """``advance(days=31)``: move the shared clock, run what fell due, deliver and process. Returns now."""
    return billing.testing.advance


@pytest.fixture
def billing_factory(billing: Billing) -> Factory:
    return Factory(billing)
