"""Demo mode (the Stripe emulator is on): a persisted FrozenClock and the emulator's Billing, for both
apps. The "Demo tools" page (move time, swap in a failing card) is in ``example_app.pages``.

Nothing here is needed against real Stripe: there, Stripe's own clock runs, Stripe POSTs webhooks to
``/billing/webhooks`` over the internet, and the Dashboard is where you poke at things.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from billingos import Billing, FrozenClock
from billingos.emulator import Emulator

#: Signs the emulator's webhooks in demo mode (a BILLINGOS_WEBHOOK_SECRETS entry comes first when set).
DEMO_WEBHOOK_SECRET = "whsec_example_app_demo_only"
LEGACY_ENDPOINT_TAG = {"example_app": "in_process"}   # the endpoint older instance/ dirs carry


class DemoClock(FrozenClock):
    """A FrozenClock whose time is kept in a small file, so a restart resumes the demo's "now"
    (the emulator's state and the database in the same instance dir were written at that time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        start = datetime.fromisoformat(path.read_text().strip()) if path.exists() else None
        super().__init__(start)
        self._save()

    def set(self, when: datetime) -> datetime:
        now = super().set(when)
        self._save()
        return now

    def advance(self, delta: timedelta | None = None, **kw: float) -> datetime:
        now = super().advance(delta, **kw)
        self._save()
        return now

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.now().isoformat())
        os.replace(tmp, self.path)


def emulator_billing(instance: Path, cfg: Any) -> Billing:
    """The emulator on a DemoClock, its state saved in the instance dir; ``cfg`` is a mapping of
    ``BILLINGOS_*`` keys. Its webhooks are signed with the first configured secret, as a Stripe Dashboard
    endpoint's would be; each app then sends them through its own route (``billing.testing.connect(app)``)."""
    clock = DemoClock(instance / "demo_clock.txt")
    emulator = Emulator(clock=clock, state_path=cfg.get("BILLINGOS_EMULATOR_STATE_PATH")
                        or str(instance / "stripe_emulator.json"))
    _forget_legacy_endpoint(emulator)
    secrets = _as_list(cfg.get("BILLINGOS_WEBHOOK_SECRETS")) or [DEMO_WEBHOOK_SECRET]
    return Billing(database_url=cfg.get("BILLINGOS_DATABASE_URL") or f"sqlite:///{instance / 'example.db'}",
                   emulator=emulator, clock=clock,
                   webhook_secrets=secrets,
                   webhook_tolerance=cfg.get("BILLINGOS_WEBHOOK_TOLERANCE", 300),
                   redis_url=cfg.get("BILLINGOS_REDIS_URL"),
                   default_currency=cfg.get("BILLINGOS_DEFAULT_CURRENCY", "usd"),
                   mailer=cfg.get("BILLINGOS_MAILER"), email_from=cfg.get("BILLINGOS_EMAIL_FROM"))


def _forget_legacy_endpoint(emulator: Emulator) -> None:
    """Instance dirs from before ``billing.testing.connect(app)`` hold an endpoint of their own: remove it,
    or it would get every event a second time."""
    client = emulator.client()
    for endpoint in client.v1.webhook_endpoints.list(params={"limit": 100}).data:
        if endpoint.to_dict().get("metadata") == LEGACY_ENDPOINT_TAG:
            client.v1.webhook_endpoints.delete(endpoint.id)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return list(value or [])
