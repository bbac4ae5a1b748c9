"""``billing.testing``: the kit host apps and billingos's own tests use against the emulator.

    billing.testing.connect()          # the emulator's webhooks now reach billing.webhooks.receive
    billing.testing.advance(days=31)   # move time: renewals, trial ends, retries; deliver and process
    billing.testing.drain()            # deliver every due webhook and run every queued job now
    billing.testing.outbox             # the emails sent (an OutboxMailer replaces the configured mailer)
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import validation
from .clock import FrozenClock
from .errors import BillingError, ConfigurationError, InvalidInputError
from .notifications import OutboxMailer

if TYPE_CHECKING:
    from .billing import Billing

__all__ = ["TestKit"]

WEBHOOK_URL = "http://127.0.0.1/billingos/webhooks"   # an in-process receiver; nothing listens there
MAX_ADVANCE = timedelta(days=3660)
_UNITS = ("weeks", "days", "hours", "minutes", "seconds")


class TestKit:
    def __init__(self, billing: Billing) -> None:
        if billing.emulator is None:
            raise ConfigurationError("billing.testing needs the Stripe emulator (stripe_emulator=True).")
        self._billing = billing
        self.emulator = billing.emulator
        self.endpoint_id: str | None = None

    def connect(self, *, url: str = WEBHOOK_URL, mode: str = "immediate") -> str:
        """Create a webhook endpoint in the emulator, signed with the first configured webhook secret,
        whose deliveries go straight to ``billing.webhooks.receive``. Returns the endpoint id."""
        validation.url(url)
        validation.choice(mode, "mode", ("immediate", "manual"))
        billing = self._billing
        if not billing.config.webhook_secrets:
            raise ConfigurationError("billing.testing.connect() signs with BillingConfig.webhook_secrets[0]; "
                                     "configure one (e.g. 'whsec_test_...').")
        endpoint = billing.stripe.v1.webhook_endpoints.create(params={"url": url, "enabled_events": ["*"]})
        self.emulator.webhooks.set_endpoint_secrets(endpoint.id, [billing.config.webhook_secrets[0]])
        self.emulator.webhooks.connect(url, self._receive)
        self.emulator.webhooks.mode = mode
        self.endpoint_id = str(endpoint.id)
        return self.endpoint_id

    def _receive(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            self._billing.webhooks.receive(body, headers)
        except BillingError as e:
            return e.status
        return 200

    @property
    def outbox(self) -> OutboxMailer:
        """The emails billingos sent (``outbox.messages``, ``outbox.sent("payment_failed")``). The first use
        replaces the configured mailer with an ``OutboxMailer``, unless it already is one."""
        notifications = self._billing.notifications
        if not isinstance(notifications.mailer, OutboxMailer):
            notifications.mailer = OutboxMailer()
        return notifications.mailer

    def advance(self, delta: timedelta | None = None, **kw: float) -> Any:
        """Move the shared FrozenClock, let the emulator run what fell due, then drain. ``delta`` and the
        keywords (``days=31``, ``hours=2``...) add up to at most ten years."""
        if delta is not None:
            validation.timedelta_(delta, "delta", minimum=timedelta(0), maximum=MAX_ADVANCE)
        for name, amount in kw.items():
            if name not in _UNITS:
                raise InvalidInputError(f"advance() takes delta= or {', '.join(_UNITS)}=, not "
                                        f"{validation.echo(name)}.", param=str(name)[:40])
            validation.seconds(amount, name, minimum=0, maximum=MAX_ADVANCE / timedelta(**{name: 1}))
        step_by = (delta or timedelta()) + timedelta(**kw)
        if step_by > MAX_ADVANCE:
            raise InvalidInputError("advance() moves time by at most ten years at once.", param="delta")
        clock = self._billing.clock
        if not isinstance(clock, FrozenClock):
            raise ConfigurationError("billing.testing.advance() needs a FrozenClock shared by Billing and the "
                                     "emulator (Billing(clock=FrozenClock(...), stripe_emulator=True)).")
        target = clock.now() + step_by
        step = timedelta(hours=1)
        while clock.now() < target:  # hour by hour, so retries and renewals land in order
            clock.set(min(clock.now() + step, target))
            self.emulator.advance_to(clock.now())
        self.drain()
        return clock.now()

    def drain(self, *, max_rounds: int = 100) -> int:
        """Deliver due webhooks, run queued jobs and due retries until nothing is left. Returns the work done."""
        validation.integer(max_rounds, "max_rounds", minimum=1, maximum=1_000_000)
        done = 0
        for _ in range(max_rounds):
            n = len(self.emulator.webhooks.deliver()) + self._billing.tasks.run_queued()
            n += self._billing.jobs.retry_due()
            done += n
            if n == 0:
                return done
        raise RuntimeError("billing.testing.drain() did not settle: something keeps enqueuing work.")
